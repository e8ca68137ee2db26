from __future__ import annotations

from typing import Any

from django.core.files.base import File
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aurio.storage import stored_sha256, walk


class Command(BaseCommand):
    help = (
        "Copy every stored file from one storage (a STORAGES alias, e.g. 'local') to another (e.g. 's3'), "
        "keeping names, and verify each copy's SHA-256. Identical files already there are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", required=True, help="STORAGES alias to copy from.")
        parser.add_argument("--to", dest="target", required=True, help="STORAGES alias to copy to.")
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be copied.")

    def handle(self, *args: Any, source: str, target: str, dry_run: bool, **options: Any) -> None:
        if source == target:
            raise CommandError("--from and --to name the same storage.")
        try:
            src, dst = storages[source], storages[target]
        except Exception as exc:  # InvalidStorageError, or a backend that can't start
            raise CommandError(f"Unknown or unusable storage: {exc}") from exc
        copied = skipped = 0
        failed: list[str] = []
        for name in walk(src):
            checksum = stored_sha256(src, name)
            if dst.exists(name) and stored_sha256(dst, name) == checksum:
                skipped += 1
                continue
            if dry_run:
                self.stdout.write(f"would copy {name}")
                copied += 1
                continue
            if dst.exists(name):
                dst.delete(name)  # a damaged earlier copy
            with src.open(name, "rb") as f:
                saved = dst.save(name, File(f, name=name))
            if saved != name or stored_sha256(dst, saved) != checksum:
                failed.append(name)
                self.stderr.write(f"MISMATCH {name} (stored as {saved})")
                continue
            copied += 1
            self.stdout.write(f"copied {name}")
        verb = "Would copy" if dry_run else "Copied"
        self.stdout.write(
            f"{verb} {copied} file(s); {skipped} already there and identical; {len(failed)} failed."
        )
        if failed:
            raise CommandError(
                f"{len(failed)} file(s) did not copy intact; nothing was deleted from {source!r}."
            )
