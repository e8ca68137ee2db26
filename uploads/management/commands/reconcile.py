from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q
from django.utils import timezone

from audit import services as audit
from audit.services import Action, Actor
from aurio.storage import remove_stale_temp, walk
from invites.models import Answer, Invite
from invites.services import invite_complete_if_answered
from uploads.models import Chunk
from uploads.services import submission_complete
from videos.models import Video
from videos.services import video_mark_failed

MISSING_ORIGINAL = "original file missing from storage"
# Files younger than this may belong to an upload or a processing run still under way.
GRACE = timedelta(hours=1)


class Command(BaseCommand):
    help = (
        "Compare storage with the database, both ways: files under videos/ and uploads/ that no video "
        "or upload part refers to, videos whose original is missing, and invites marked submitted "
        "whose video was never recorded (the request died in between). Only reports, unless --fix: "
        "then orphan files and aurio's temporary files older than an hour are deleted (younger ones may "
        "belong to work in flight), videos without their original are marked failed "
        f"({MISSING_ORIGINAL!r}), and unfinished submissions are completed from what was stored "
        "(their stored original or their finished upload) or, with nothing stored, reopened so the "
        "candidate can send again. An original an invite's unfinished submission or an upload still "
        "needs is never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fix", action="store_true", help="Delete old orphans, fail broken videos, complete submissions."
        )

    def handle(self, *args: Any, fix: bool, **options: Any) -> None:
        self.fix = fix
        self.actor = Actor.command("reconcile --fix")
        claimed = Answer.objects.filter(
            submission_id__isnull=False, submitted_at__isnull=False
        ).select_related("invite", "question")
        unfinished = [answer for answer in claimed if answer.has_unfinished_claim]
        deleted, kept = self._orphans(unfinished)
        missing = self._missing_originals()
        completed = self._unfinished(unfinished)
        incomplete = self._answered_not_submitted()
        temp = remove_stale_temp(older_than=GRACE.total_seconds(), dry_run=not fix)
        for name in temp:
            self.stdout.write(f"temporary file {name}{': deleted' if fix else ''}")

        if fix:
            self.stdout.write(
                f"Deleted {deleted} orphan file(s), kept {kept} younger than an hour; "
                f"marked {len(missing)} video(s) without their original as failed; "
                f"completed {completed} of {len(unfinished)} unfinished submission(s); "
                f"marked {incomplete} fully answered invite(s) submitted; "
                f"deleted {len(temp)} old temporary file(s)."
            )
        else:
            self.stdout.write(
                f"{kept} orphan file(s); {len(missing)} video(s) without their original; "
                f"{len(unfinished)} unfinished submission(s); {incomplete} fully answered invite(s) not "
                f"marked submitted; {len(temp)} old temporary file(s). "
                "Run with --fix to clean up."
            )

    def _orphans(self, unfinished: list[Answer]) -> tuple[int, int]:
        """Files under videos/ and uploads/ nothing refers to."""
        storage = default_storage
        referenced: set[str] = set()
        for names in Video.objects.values_list("file", "poster", "playback"):
            referenced.update(name for name in names if name)
        referenced.update(Chunk.objects.values_list("name", flat=True))
        # The stored original of a submission whose row never came is its only copy.
        needed = tuple(f"videos/{answer.submission_id}/" for answer in unfinished)
        try:
            folders, _ = storage.listdir("")
        except FileNotFoundError:  # a local storage nothing was ever saved to
            folders = []
        stored = [name for top in ("videos", "uploads") if top in folders for name in walk(storage, top)]
        cutoff = timezone.now() - GRACE
        deleted = kept = 0
        for name in sorted(set(stored) - referenced):
            if name.startswith(needed):
                self.stdout.write(f"orphan file {name}: kept, an unfinished submission's original")
                kept += 1
            elif self.fix and storage.get_modified_time(name) < cutoff:
                storage.delete(name)
                audit.record(
                    actor=self.actor, action=Action.DELETED, target=name, detail={"reason": "orphan file"}
                )
                deleted += 1
                self.stdout.write(f"orphan file {name}: deleted")
            else:
                kept += 1
                note = ": kept, younger than an hour" if self.fix else ""
                self.stdout.write(f"orphan file {name}{note}")
        return deleted, kept

    def _missing_originals(self) -> list[str]:
        storage = default_storage
        missing = [
            str(video_id)
            for video_id, name in Video.objects.values_list("pk", "file")
            if not name or not storage.exists(name)
        ]
        for video_id in missing:
            self.stdout.write(
                f"video {video_id}: original file missing{': marked failed' if self.fix else ''}"
            )
        if self.fix:
            for video in Video.objects.filter(pk__in=missing).select_related("invite"):
                video_mark_failed(video=video, reason=MISSING_ORIGINAL, actor=self.actor)
        return missing

    def _unfinished(self, unfinished: list[Answer]) -> int:
        """Answers claimed for a video whose row was never written."""
        completed = 0
        for answer in unfinished:
            invite = answer.invite
            label = (
                f"invite {invite.pk} ({invite.email}), question {answer.question.position + 1}: "
                "marked submitted, but its video was never recorded"
            )
            if not self.fix:
                self.stdout.write(label)
                continue
            outcome = submission_complete(answer=answer, actor=self.actor)
            completed += outcome.startswith("completed")
            self.stdout.write(f"{label}: {outcome}")
        return completed

    def _answered_not_submitted(self) -> int:
        """Invites whose every question has its video, not yet marked submitted
        (the request that wrote the last row died before marking it)."""
        found = 0
        open_invites = Invite.objects.filter(submitted_at__isnull=True, answers__submitted_at__isnull=False)
        for invite in open_invites.distinct().select_related("interview"):
            if self.fix:
                if invite_complete_if_answered(invite=invite):
                    found += 1
                    self.stdout.write(
                        f"invite {invite.pk} ({invite.email}): every question answered: marked submitted"
                    )
            elif _all_answered(invite):
                found += 1
                self.stdout.write(
                    f"invite {invite.pk} ({invite.email}): every question answered, not marked submitted"
                )
        return found


def _all_answered(invite: Invite) -> bool:
    """Every question has its answer, each by a video that is there (or that staff deleted since)."""
    required = set(invite.interview.answered_questions().values_list("pk", flat=True))
    given = invite.answers.filter(submitted_at__isnull=False).filter(
        Q(submission_id__isnull=True) | Q(submission_id__in=invite.videos.values("pk"))
    )
    return bool(required) and required <= set(given.values_list("question_id", flat=True))
