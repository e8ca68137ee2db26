"""aurio's storage: the private local folder media live in, the static files,
and what every storage shares (saving verified, hashing and walking stored
files, aurio's temporary folders).
S3 is aurio.s3.

Every file aurio keeps goes through `save_verified`: a stored file is read
back (its size, and its hash where aurio has one) before anything relies on it.
A nearly full disk can cut a write short without an error (Django's copy
between filesystems ignores short writes), and an acknowledged chunk or a
claimed invite must never rest on a truncated file."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024
# What aurio's own temporary files and folders are called, so a cleanup never
# touches anything else in a shared temporary folder.
TEMP_PREFIX = "aurio-"


class ShortWrite(OSError):
    """A stored file is not what was written (cut short on a full disk, or damaged)."""


class LocalFile(File):  # type: ignore[type-arg]
    """A finished file on local disk: FileSystemStorage moves it (a rename, when
    the temporary folder is on the media filesystem) instead of copying it."""

    def temporary_file_path(self) -> str:
        return str(self.name)


class PrivateFileSystemStorage(FileSystemStorage):
    """Local files with no public URL: media are served only through the
    authorising stream view, never from MEDIA_URL.

    A save is on disk (fsync) before it returns, and leaves no partial file
    behind when it fails; deleting a folder's last file removes the folder."""

    def url(self, name: str | None) -> str:
        raise ValueError("Private storage has no public URL; serve files through videos' stream view.")

    def _save(self, name: str, content: Any) -> str:
        """Django's own _save, made strict: a local file is renamed into place
        when it can be, else copied with writes that fail loudly (Django's
        cross-filesystem move ignores a short write); either way the file is
        on disk before this returns, and a failed save leaves nothing."""
        while True:
            path = Path(self.path(name))
            path.parent.mkdir(mode=self.directory_permissions_mode or 0o777, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.file_permissions_mode or 0o666)
            except FileExistsError:
                name = self.get_available_name(name)
                continue
            try:
                if not _rename_into(path, content):
                    with os.fdopen(os.dup(fd), "wb") as out:
                        for chunk in content.chunks():
                            out.write(chunk)
                _fsync(path)
                _fsync(path.parent)
                if self.file_permissions_mode is not None:
                    os.chmod(path, self.file_permissions_mode)
            except BaseException:
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
            finally:
                os.close(fd)
            return os.path.relpath(path, self.location).replace("\\", "/")

    def delete(self, name: str) -> None:
        super().delete(name)
        folder = Path(self.path(name)).parent
        if folder != Path(self.location) and folder.parent != Path(self.location):
            with contextlib.suppress(OSError):  # not empty, or already gone: fine
                folder.rmdir()


def _rename_into(path: Path, content: Any) -> bool:
    """Move a local file over `path` if it is on the same filesystem."""
    source = getattr(content, "temporary_file_path", None)
    if source is None:
        return False
    try:
        os.replace(source(), path)
    except OSError:  # another filesystem (EXDEV): copy instead
        return False
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return _sha256(f)


def stored_sha256(storage: Storage, name: str) -> str:
    """The SHA-256 of a stored file, read through the storage API (any storage)."""
    with storage.open(name, "rb") as f:
        return _sha256(f)


def _sha256(f: IO[bytes] | File[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := f.read(READ_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


def walk(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file name under `folder`, through the storage API only (aurio's
    temporary folder, `.tmp` in local media, is work in progress, not media)."""
    folders, files = storage.listdir(folder)
    for name in files:
        yield f"{folder}/{name}" if folder else name
    for sub in folders:
        if folder or sub != ".tmp":
            yield from walk(storage, f"{folder}/{sub}" if folder else sub)


def save_verified(storage: Storage, name: str, path: Path, *, sha256: str | None = None) -> str:
    """Store the local file at `path` under `name` (or a free name like it) and
    check what was stored: its size, and its SHA-256 when given and the storage
    is a local folder (an object store checks its own uploads). A mismatch
    removes the stored copy and raises ShortWrite, an OSError, so callers
    answer "try again" and keep what they had. Returns the stored name."""
    size = path.stat().st_size
    with path.open("rb") as f:
        saved = storage.save(name, LocalFile(f, name=str(path)))
    try:
        stored = storage.size(saved)
        if stored != size:
            raise ShortWrite(f"{saved}: {stored} of {size} bytes were stored (is the disk full?)")
        if sha256 is not None and (local := local_path(storage, saved)) is not None:
            if sha256_of(local) != sha256:
                raise ShortWrite(f"{saved}: the stored bytes differ from those written")
    except BaseException:
        with contextlib.suppress(OSError):
            storage.delete(saved)
        raise
    return saved


def local_path(storage: Storage, name: str) -> Path | None:
    """The file's path on this machine, or None for remote storage."""
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def temp_dir() -> str | None:
    """Where aurio spools and assembles files: FILE_UPLOAD_TEMP_DIR (by default
    a folder inside the local media folder, so storing a file is a rename)."""
    folder = settings.FILE_UPLOAD_TEMP_DIR
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


def temporary_directory(purpose: str) -> tempfile.TemporaryDirectory[str]:
    """A work folder named for its purpose and owner (`aurio-finish-<pid>@<host>@…`),
    so the sweep can tell one whose process has died."""
    owner = f"{os.getpid()}@{socket.gethostname()}@"
    return tempfile.TemporaryDirectory(dir=temp_dir(), prefix=f"{TEMP_PREFIX}{purpose}-{owner}")


_OWNER = re.compile(r"^aurio-[a-z]+-(\d+)@([^@]+)@")


def _owner_is_dead(name: str) -> bool:
    """The folder was made by a process of this machine that is gone. (Another
    machine's processes can't be asked: their folders go by age.)"""
    match = _OWNER.match(name)
    if match is None or match.group(2) != socket.gethostname():
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def remove_stale_temp(*, older_than: float, dry_run: bool = False) -> list[str]:
    """Remove aurio's temporary files and folders left by a process killed
    mid-upload or mid-processing: at once when their process (on this machine)
    is gone, else once untouched for `older_than` seconds. Django's own spooled
    uploads (`*.upload*`) count too when the folder is aurio's alone."""
    folder = Path(temp_dir() or tempfile.gettempdir())
    own_folder = bool(settings.FILE_UPLOAD_TEMP_DIR) and folder.name == ".tmp"
    cutoff = time.time() - older_than
    removed = []
    for entry in folder.iterdir() if folder.is_dir() else []:
        ours = entry.name.startswith(TEMP_PREFIX) or (own_folder and ".upload" in entry.name)
        try:
            if not ours or (not _owner_is_dead(entry.name) and _newest_change(entry) >= cutoff):
                continue
            if not dry_run:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        except FileNotFoundError:
            continue  # finished and removed by its owner meanwhile
        removed.append(str(entry))
    return removed


def _newest_change(entry: Path) -> float:
    newest = entry.lstat().st_mtime
    if entry.is_dir() and not entry.is_symlink():
        for root, dirs, files in os.walk(entry):
            for child in (*dirs, *files):
                with contextlib.suppress(FileNotFoundError):
                    newest = max(newest, os.lstat(os.path.join(root, child)).st_mtime)
    return newest


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's hashed, compressed static files; when `collectstatic` was
    not run (a server started by hand), a page names the file unhashed and
    logs why, instead of failing with a 500 (error pages included)."""

    def stored_name(self, name: str) -> str:
        try:
            return str(super().stored_name(name))
        except ValueError as exc:
            if self.hashed_files:  # collected: the file really is missing
                raise
            log.error("static file %s: %s (run `manage.py collectstatic`)", name, exc)
            return name
