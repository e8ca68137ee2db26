"""Lists of candidates to invite: a CSV file (`import_invites`, the admin's
upload) or lines pasted into the admin. Only reads and checks; creating the
invites is the caller's (through `invite_create`)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

NAME_MAX = 200
# "Ada Lovelace <ada@example.com>", the name optionally in double quotes.
_NAMED = re.compile(r'^\s*"?(?P<name>[^<>"]*?)"?\s*<(?P<email>[^<>]*)>\s*$')


class ListError(Exception):
    """The list as a whole can't be read; the message follows the file's name
    ("has no 'email' column …", "is not valid CSV: …")."""


@dataclass(frozen=True)
class Candidate:
    line: int
    email: str
    name: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class BadLine:
    line: int
    email: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.email or '-'}: {self.reason}"


@dataclass
class CandidateList:
    good: list[Candidate]
    bad: list[BadLine]


# Invite.email's length (the longest address RFC 5321 lets through to a mailbox).
EMAIL_MAX = 254


def read_csv(text: str) -> CandidateList:
    """Rows of a CSV with a header row: email (required), name, expires_at (ISO
    8601 with a zone, or empty). Lines are numbered as in the file, the header
    being line 1. Raises ListError when the file as a whole is unusable."""
    reader = csv.DictReader(_lines(text.removeprefix("\ufeff")))
    try:
        columns = [c.strip().lower() for c in reader.fieldnames or []]
    except csv.Error as exc:
        raise ListError(f"is not valid CSV: {exc}") from exc
    if "email" not in columns:
        raise ListError(f"has no 'email' column (found: {', '.join(columns) or 'nothing'})")
    reader.fieldnames = columns
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ListError(f"is not valid CSV: {exc}") from exc
    result = CandidateList(good=[], bad=[])
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        email = (row.get("email") or "").strip().lower()
        name = row.get("name") or ""
        try:
            if None in row:
                raise ValueError("more fields than the header has")
            _check(email, name, seen)
            expires_at = _deadline((row.get("expires_at") or "").strip())
        except ValueError as exc:
            result.bad.append(BadLine(number, email, str(exc)))
            continue
        seen[email] = number
        result.good.append(Candidate(number, email, name.strip(), expires_at))
    return result


def read_pasted(text: str) -> CandidateList:
    """One candidate a line: `email`, `Name <email>` or `email, name`. Blank
    lines are skipped; lines are numbered from 1 as pasted."""
    result = CandidateList(good=[], bad=[])
    seen: dict[str, int] = {}
    for number, raw in enumerate(_lines(text), start=1):
        if not raw.strip():
            continue
        email, name = _split_line(raw)
        try:
            _check(email, name, seen)
        except ValueError as exc:
            result.bad.append(BadLine(number, email, str(exc)))
            continue
        seen[email] = number
        result.good.append(Candidate(number, email, name.strip()))
    return result


def _split_line(raw: str) -> tuple[str, str]:
    named = _NAMED.match(raw)
    if named:
        return named["email"].strip().lower(), named["name"]
    email, _, name = raw.partition(",")
    return email.strip().lower(), name


def _lines(text: str) -> list[str]:
    """Lines as a person typed them: split at line breaks only (str.splitlines also splits at
    U+2028, U+0085 and other separators a name may hold)."""
    return re.split(r"\r\n|\r|\n", text.removesuffix("\n").removesuffix("\r")) if text else []


def _check(email: str, name: str, seen: dict[str, int]) -> None:
    """ValueError with the reason if the candidate can't be invited."""
    if not email:
        raise ValueError("email is empty")
    if len(email) > EMAIL_MAX:
        raise ValueError(f"the email address is longer than {EMAIL_MAX} characters")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValueError(f"not a valid email address: {email!r}") from exc
    if email in seen:
        raise ValueError(f"duplicate of line {seen[email]}")
    if len(name.strip()) > NAME_MAX:
        raise ValueError(f"name is longer than {NAME_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in email + name):
        raise ValueError("control characters (such as a NUL byte) in the email or name")


def _deadline(raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        expires_at = parse_datetime(raw)
    except ValueError:
        expires_at = None
    if expires_at is None:
        raise ValueError(f"expires_at {raw!r} is not an ISO date and time")
    if timezone.is_naive(expires_at):
        raise ValueError(f"expires_at {raw!r} has no time zone")
    if expires_at <= timezone.now():
        raise ValueError(f"expires_at {raw!r} is in the past")
    return expires_at
