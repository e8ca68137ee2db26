from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from audit import services as audit
from audit.services import Action, Actor
from aurio.management.commands.copy_media import walk
from videos.models import Status, Video

MISSING_ORIGINAL = "original file missing from storage"
# Files younger than this may belong to an upload or a processing run still under way.
GRACE = timedelta(hours=1)


class Command(BaseCommand):
    help = (
        "Compare storage with the database, both ways: files under videos/ that no video refers to "
        "(original, poster or MP4 rendition), and videos whose original file is missing. Only reports, "
        "unless --fix: then orphan files older than an hour are deleted (younger ones may belong to "
        f"an upload in flight) and videos without their original are marked failed ({MISSING_ORIGINAL!r})."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Delete old orphan files, fail broken videos.")

    def handle(self, *args: Any, fix: bool, **options: Any) -> None:
        storage = default_storage
        referenced: set[str] = set()
        originals: dict[str, str] = {}
        for pk, file, poster, playback in Video.objects.values_list("pk", "file", "poster", "playback"):
            referenced.update(name for name in (file, poster, playback) if name)
            originals[str(pk)] = file

        try:
            folders, _ = storage.listdir("")
        except FileNotFoundError:  # a local storage nothing was ever saved to
            folders = []
        stored = set(walk(storage, "videos")) if "videos" in folders else set()
        cutoff = timezone.now() - GRACE
        deleted = kept = 0
        actor = Actor.command("reconcile --fix")
        for name in sorted(stored - referenced):
            if fix and storage.get_modified_time(name) < cutoff:
                storage.delete(name)
                audit.record(
                    actor=actor, action=Action.DELETED, target=name, detail={"reason": "orphan file"}
                )
                deleted += 1
                self.stdout.write(f"orphan file {name}: deleted")
            else:
                kept += 1
                note = ": kept, younger than an hour" if fix else ""
                self.stdout.write(f"orphan file {name}{note}")

        missing = [
            video_id
            for video_id, name in originals.items()
            if not name or (name not in stored and not storage.exists(name))
        ]
        for video_id in missing:
            self.stdout.write(f"video {video_id}: original file missing{': marked failed' if fix else ''}")
        if fix and missing:
            broken = Video.objects.filter(pk__in=missing)
            broken.update(status=Status.FAILED, failure_reason=MISSING_ORIGINAL)
            for video in broken.select_related("invite"):
                audit.record(
                    actor=actor,
                    action=Action.MARKED_FAILED,
                    target=video,
                    detail={"reason": MISSING_ORIGINAL},
                )

        if fix:
            self.stdout.write(
                f"Deleted {deleted} orphan file(s), kept {kept} younger than an hour; "
                f"marked {len(missing)} video(s) without their original as failed."
            )
        else:
            self.stdout.write(
                f"{kept} orphan file(s); {len(missing)} video(s) without their original. "
                "Run with --fix to clean up."
            )
