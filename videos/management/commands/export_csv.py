from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Sum

from interviews.models import Interview
from invites.models import Invite
from videos.models import Video

INVITE_COLUMNS = [
    "id", "email", "name", "status", "created_at", "expires_at", "opened_at", "submitted_at",
    "revoked_at", "takes", "videos", "interview", "sent_at", "started_at",
]  # fmt: skip
VIDEO_COLUMNS = [
    "id", "invite_id", "email", "name", "created_at", "status", "failure_reason", "tag", "suggested_tag",
    "duration_seconds", "width", "height", "size", "original_name", "question_number", "question",
]  # fmt: skip


class Command(BaseCommand):
    help = (
        "Write every invite or every video as CSV, one row each, to standard output or --output. "
        "Invite links are secrets and are left out unless --with-links."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["invites", "videos"], help="Which table to export.")
        parser.add_argument("--output", type=Path, help="Write to this file instead of standard output.")
        parser.add_argument(
            "--with-links", action="store_true", help="Add each invite's candidate link (invites only)."
        )

    def handle(self, *args: Any, what: str, output: Path | None, with_links: bool, **options: Any) -> None:
        if with_links and what != "invites":
            raise CommandError("--with-links goes with invites.")
        rows = _invite_rows(with_links) if what == "invites" else _video_rows()
        if output is None:
            _write(self.stdout, rows)
            return
        try:
            with output.open("w", newline="", encoding="utf-8") as f:
                count = _write(f, rows)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from exc
        self.stderr.write(f"Wrote {count} {what} to {output}.")


def _write(out: Any, rows: Iterator[list[object]]) -> int:
    writer = csv.writer(out)
    count = -1  # the header is not a record
    for row in rows:
        writer.writerow([_cell(value) for value in row])
        count += 1
    return count


def _cell(value: object) -> str:
    """Text for a spreadsheet: dates in ISO 8601, and text a spreadsheet would run as a formula
    (it starts with =, +, -, @) quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _invite_rows(with_links: bool) -> Iterator[list[object]]:
    yield [*INVITE_COLUMNS, *(["link"] if with_links else [])]
    invites = (
        Invite.objects.annotate(
            video_count=Count("videos", distinct=True), takes=Sum("answers__takes", default=0)
        )
        .select_related("interview")
        .order_by("created_at")
    )
    for i in invites.iterator():
        row: list[object] = [
            i.pk, i.email, i.name, i.status, i.created_at, i.expires_at, i.opened_at, i.submitted_at,
            i.revoked_at, i.takes, i.video_count, i.interview.title, i.sent_at, i.started_at,
        ]  # fmt: skip
        yield row + ([i.link] if with_links else [])


def _video_rows() -> Iterator[list[object]]:
    yield [*VIDEO_COLUMNS]
    # "Question 2 of 4" as the candidate saw it: practice questions are not numbered.
    numbers = {
        q.pk: n
        for interview in Interview.objects.prefetch_related("questions")
        for n, q in enumerate(interview.answered_questions().order_by("position", "id"), start=1)
    }
    videos = Video.objects.select_related("invite", "question").order_by("created_at")
    for v in videos.iterator():
        yield [
            v.pk, v.invite_id, v.invite.email, v.invite.name, v.created_at, v.status, v.failure_reason,
            v.tag, v.suggested_tag, v.duration_seconds, v.width, v.height, v.size, v.original_name,
            numbers.get(v.question_id), v.question.text,
        ]  # fmt: skip
