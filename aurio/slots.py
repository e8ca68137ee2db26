"""Upload slots: how many request bodies (upload chunks, files) one web process
reads at once.

At most ``AURIO_MAX_UPLOADS_PER_PROCESS`` at once, and
``AURIO_MAX_UPLOADS_PER_LINK`` for one invite link, so slow uploads can't take
every thread from pages and playback; beyond them candidates get 503 or 429
with Retry-After, and their page retries. The slots are counted in memory, not
in the cache: a process that dies takes its slots with it, and nothing is left
to expire. `aurio.ratelimit.rate_limited` takes a slot for every request with
a body."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import Counter
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def has_body(request: HttpRequest) -> bool:
    """The request has a body to read (a Content-Length above 0, or chunked)."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked or (length.isascii() and length.isdigit() and int(length) > 0)


class UploadSlots:
    """Request bodies being read at once in this process, in all and per link."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_link: Counter[str] = Counter()
        self._total = 0

    @contextlib.contextmanager
    def take(self, token: str) -> Iterator[HttpResponse | None]:
        """Yields None with a slot held for the invite link `token`, or the
        refusal to answer with."""
        # Counted by a digest: the token itself is never kept.
        link = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            if self._total >= settings.AURIO_MAX_UPLOADS_PER_PROCESS:
                refusal: HttpResponse | None = _busy(
                    503, "aurio is busy receiving other uploads. Your upload will go on in a moment."
                )
            elif self._by_link[link] >= settings.AURIO_MAX_UPLOADS_PER_LINK:
                refusal = _busy(
                    429, "Another upload for this link is still under way. Yours will go on in a moment."
                )
            else:
                refusal = None
                self._total += 1
                self._by_link[link] += 1
        try:
            yield refusal
        finally:
            if refusal is None:
                with self._lock:
                    self._total -= 1
                    self._by_link[link] -= 1
                    if not self._by_link[link]:
                        del self._by_link[link]

    @property
    def busy(self) -> int:
        return self._total


upload_slots = UploadSlots()


def _busy(status: int, detail: str) -> HttpResponse:
    response = JsonResponse({"detail": detail}, status=status)
    response["Retry-After"] = "5"
    response["Cache-Control"] = "no-store"
    return response
