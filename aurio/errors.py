"""The one shape of a refusal: a status and a sentence for a person.

Services raise `Refused`; the API answers it as `{"detail": ...}` with its
status (aurio.api), and so do the tus views (uploads.views).
"""

from __future__ import annotations

from ninja import Schema


class Refused(Exception):
    """A request that cannot be carried out: answer `status` with `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Error(Schema):
    detail: str


# What every recruiter endpoint may answer besides its success (documented in the schema).
RECRUITER_ERRORS: dict[int, type[Schema]] = {401: Error, 403: Error, 429: Error}
