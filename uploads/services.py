"""Writes for resumable uploads: create, append a chunk, finish, terminate, expire.

No step relies on a database transaction: chunk rows are guarded by a unique
constraint and the offset moves by conditional UPDATE, so the same rules hold
on every backend and between any number of web processes.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError
from django.utils import timezone

from invites.models import Invite
from uploads.models import Chunk, Upload
from videos import services as videos
from videos.models import Video

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
}


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class TusError(Exception):
    """A refused tus request; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    @classmethod
    def parse(cls, header: str) -> Checksum:
        algorithm, _, value = header.strip().partition(" ")
        if not value.strip():
            raise TusError(400, "Upload-Checksum must be '<algorithm> <base64 digest>'.")
        if algorithm not in CHECKSUMS:
            raise TusError(400, f"Unsupported checksum algorithm {algorithm!r}; use {', '.join(CHECKSUMS)}.")
        try:
            return cls(algorithm, base64.b64decode(value, validate=True))
        except ValueError:
            raise TusError(400, "Upload-Checksum must be '<algorithm> <base64 digest>'.") from None


class _LocalFile(File):  # type: ignore[type-arg]
    """A local file that FileSystemStorage may move instead of copy."""

    def temporary_file_path(self) -> str:
        return str(self.name)


class _AssembledUpload(UploadedFile):
    """The finished upload, assembled on local disk, handed to videos' checks."""

    def __init__(self, path: Path, name: str, content_type: str) -> None:
        super().__init__(path.open("rb"), name=name, content_type=content_type, size=path.stat().st_size)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated 'key base64value' pairs."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (ValueError, UnicodeDecodeError):
            raise TusError(400, f"Upload-Metadata value for {key!r} is not valid base64 text.") from None
    return metadata


def upload_create(*, invite: Invite, length: int, metadata: dict[str, str]) -> Upload:
    videos.check_invite_accepts_upload(invite)
    if length <= 0:
        raise TusError(400, "Upload-Length must be a positive whole number of bytes.")
    limit = settings.AURIO_MAX_UPLOAD_BYTES
    if length > limit:
        raise TusError(413, f"The file is {length / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.")
    return Upload.objects.create(
        invite=invite,
        length=length,
        filename=metadata.get("filename", "")[:255],
        filetype=metadata.get("filetype", "")[:100],
    )


def _spool(
    stream: Readable, limit: int, workdir: Path, checksum: Checksum | None
) -> tuple[Path, int, str, bool]:
    """Copy the request body to a local file, reading at most `limit` bytes.

    Returns (path, size, sha256, complete). A client that hangs up part-way
    leaves what arrived, which tus lets the server keep.
    """
    path = workdir / "chunk"
    sha256 = hashlib.sha256()
    verify = CHECKSUMS[checksum.algorithm]() if checksum else None
    size, complete, stalled = 0, True, False
    with path.open("wb") as out:
        while True:
            try:
                data = stream.read(min(READ_SIZE, limit - size + 1))
            except OSError as exc:  # includes Django's UnreadablePostError: the client went away
                complete = False
                stalled = isinstance(exc, TimeoutError) or isinstance(exc.__cause__, TimeoutError)
                break
            if not data:
                break
            size += len(data)
            if size > limit:
                raise TusError(
                    413, "This request carries more bytes than the upload has left (Upload-Length)."
                )
            sha256.update(data)
            if verify:
                verify.update(data)
            out.write(data)
    if stalled:
        # The web server's idle timeout (gunicorn.conf.py) fired: what arrived
        # can be kept only when no checksum has to vouch for the whole chunk.
        log.info("upload: a chunk stalled after %d bytes", size)
    if checksum and verify and not complete:
        raise TusError(
            408 if stalled else 400,
            "The chunk did not arrive whole (the connection stalled or dropped); "
            "send it again from Upload-Offset.",
        )
    if checksum and verify and verify.digest() != checksum.digest:
        raise TusError(460, f"The {checksum.algorithm} checksum of the chunk does not match Upload-Checksum.")
    return path, size, sha256.hexdigest(), complete


def _discard_uncommitted(upload: Upload) -> None:
    """Remove chunks at or past the offset: left by a request that died between storing and committing."""
    for chunk in Chunk.objects.filter(upload=upload, offset__gte=upload.offset):
        default_storage.delete(chunk.name)
        chunk.delete()


def upload_append(
    *, upload: Upload, offset: int, stream: Readable, checksum: Checksum | None = None
) -> Upload:
    """Store one PATCH's bytes at `offset` and move the upload's offset past them."""
    if upload.is_expired:
        raise TusError(410, "This upload has expired; start the upload again.")
    with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        path, size, sha256, _ = _spool(stream, max(upload.length - offset, 0), Path(tmp), checksum)
        if offset != upload.offset:
            if _is_a_retry(upload, offset, size, sha256):
                return upload  # the same bytes again: already stored
            raise TusError(409, f"Upload-Offset {offset} does not match the server's offset {upload.offset}.")
        if size == 0:
            return upload  # an empty chunk (a recorder's last one) is fine
        try:
            _discard_uncommitted(upload)
            with path.open("rb") as f:
                name = default_storage.save(upload.chunk_name(offset), _LocalFile(f, name=str(path)))
        except OSError as exc:  # a full disk, or the object store unreachable (aurio.storage)
            log.exception("storing the part at %d of upload %s failed", offset, upload.pk)
            raise TusError(
                503, f"We couldn't store this part just now; please try again from offset {offset}."
            ) from exc
    try:
        Chunk.objects.create(upload=upload, offset=offset, size=size, sha256=sha256, name=name)
    except IntegrityError:
        default_storage.delete(name)
        upload.refresh_from_db()
        raise TusError(409, "Another request is writing at this offset; ask for the offset again.") from None
    except DatabaseError:
        default_storage.delete(name)  # no row will ever point at it (the answer is a 503: try again)
        raise
    moved = Upload.objects.filter(pk=upload.pk, offset=offset).update(offset=offset + size)
    upload.refresh_from_db()
    if not moved:
        raise TusError(409, f"The upload moved on to offset {upload.offset}; ask for the offset again.")
    return upload


def _is_a_retry(upload: Upload, offset: int, size: int, sha256: str) -> bool:
    return (
        offset < upload.offset
        and Chunk.objects.filter(upload=upload, offset=offset, size=size, sha256=sha256).exists()
    )


def upload_terminate(*, upload: Upload) -> None:
    for chunk in upload.chunks.all():
        default_storage.delete(chunk.name)
    upload.delete()


def _assemble(upload: Upload, target: Path) -> str:
    """Join the committed chunks into one local file, checking each one's hash.
    Returns the whole file's SHA-256."""
    expected = 0
    whole = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in Chunk.objects.filter(upload=upload, offset__lt=upload.offset).order_by("offset"):
            if chunk.offset != expected:
                raise TusError(
                    409, f"Bytes {expected}–{chunk.offset} of the upload are missing; upload again."
                )
            digest = hashlib.sha256()
            with default_storage.open(chunk.name, "rb") as f:
                while data := f.read(READ_SIZE):
                    digest.update(data)
                    whole.update(data)
                    out.write(data)
            if digest.hexdigest() != chunk.sha256:
                raise TusError(409, "A stored part of the upload is damaged; upload again.")
            expected += chunk.size
    if expected != upload.length:
        raise TusError(409, f"The upload has {expected} of {upload.length} bytes; finish it first.")
    return whole.hexdigest()


def upload_finish(*, upload: Upload) -> Video:
    """Turn a complete upload into the invite's video, once.

    Calling it again (a double click, a retry after a lost response) returns
    the same video.
    """
    if upload.video is not None:
        return upload.video
    if not upload.is_complete:
        raise TusError(409, f"The upload has {upload.offset} of {upload.length} bytes; finish it first.")
    with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        path = Path(tmp) / "upload"
        try:
            upload.sha256 = _assemble(upload, path)
        except OSError as exc:
            log.exception("reading back the parts of upload %s failed", upload.pk)
            raise TusError(
                503, "We couldn't read your upload back just now; please try again in a minute."
            ) from exc
        Upload.objects.filter(pk=upload.pk).update(sha256=upload.sha256)
        assembled = _AssembledUpload(path, upload.filename or "answer", upload.filetype)
        try:
            video = videos.video_accept_upload(invite=upload.invite, upload=assembled)
        except videos.AlreadySubmitted:
            upload.refresh_from_db()
            if upload.video is not None:  # a concurrent finish of this very upload won
                return upload.video
            raise
        except videos.StorageUnavailable:
            raise  # keep the chunks: the candidate retries
        except videos.UploadRefused as exc:
            Upload.objects.filter(pk=upload.pk).update(failure=exc.detail[:300])
            _delete_chunks(upload)
            raise
        finally:
            assembled.close()
    Upload.objects.filter(pk=upload.pk).update(video=video)
    upload.video = video
    _delete_chunks(upload)
    return video


def _delete_chunks(upload: Upload) -> None:
    for chunk in Chunk.objects.filter(upload=upload):
        default_storage.delete(chunk.name)
        chunk.delete()


def uploads_expired() -> list[Upload]:
    return list(
        Upload.objects.filter(video__isnull=True, expires_at__lte=timezone.now()).select_related("invite")
    )


def uploads_expire(*, dry_run: bool = False) -> tuple[int, int]:
    """Delete unfinished uploads past their expiry: (uploads, bytes) removed."""
    count = removed = 0
    for upload in uploads_expired():
        count += 1
        removed += sum(chunk.size for chunk in upload.chunks.all())
        if not dry_run:
            upload_terminate(upload=upload)
    return count, removed
