"""Resumable (tus) uploads: create, append a chunk, finish, terminate, expire.
A finished upload becomes the invite's video through uploads.accept.

No step relies on a database transaction: chunk rows are guarded by a unique
constraint and the offset moves by conditional UPDATE, so the same rules hold
on every backend and between any number of web processes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import services as audit
from audit.services import Action, Actor
from aurio.errors import Refused
from aurio.storage import READ_SIZE, save_verified, temporary_directory
from interviews.models import Question
from invites.models import Answer, Invite
from invites.services import answer_release, answer_start_take, invite_reopen_if_unanswered
from uploads import accept
from uploads.models import Chunk, Upload
from videos.models import Video

log = logging.getLogger(__name__)

# A chunk row at or past the upload's offset older than this was left by a
# request that died between storing and committing (committing takes
# milliseconds, or SQLite's lock wait at most); a younger one may be in flight.
LEFTOVER_AGE = timedelta(seconds=60)
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
}


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    @classmethod
    def parse(cls, header: str) -> Checksum:
        algorithm, _, value = header.strip().partition(" ")
        if not value.strip():
            raise Refused(400, "Upload-Checksum must be '<algorithm> <base64 digest>'.")
        if algorithm not in CHECKSUMS:
            raise Refused(400, f"Unsupported checksum algorithm {algorithm!r}; use {', '.join(CHECKSUMS)}.")
        try:
            return cls(algorithm, base64.b64decode(value, validate=True))
        except ValueError:
            raise Refused(400, "Upload-Checksum must be '<algorithm> <base64 digest>'.") from None


def _printable(text: str) -> str:
    """Metadata as a name to show: control characters (NUL included, which
    PostgreSQL can't store) dropped."""
    return "".join(c for c in text if unicodedata.category(c) != "Cc")


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated 'key base64value' pairs."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            text = base64.b64decode(value, validate=True).decode() if value else ""
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, f"Upload-Metadata value for {key!r} is not valid base64 text.") from None
        metadata[_printable(key)] = _printable(text)
    return metadata


def _question(invite: Invite, metadata: dict[str, str]) -> Question | None:
    """The question an upload answers: the page names it ("question", its id);
    None (the first question still to answer) for a client that doesn't."""
    raw = metadata.get("question", "")
    if not raw:
        return None
    try:
        return invite.interview.questions.get(pk=uuid.UUID(raw))
    except (ValueError, Question.DoesNotExist):
        raise Refused(404, "This interview has no such question.") from None


def _take(answer: Answer, metadata: dict[str, str]) -> int:
    """The take an upload carries: the page names it ("take", the number the
    server gave when the take started); otherwise the latest one, started now
    for a client that never asked for one."""
    raw = metadata.get("take", "")
    if not raw:
        if answer.takes:
            return answer.takes
        started = answer_start_take(answer=answer)
        if started is None:
            raise Refused(403, "You have used all your takes.")
        return started
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or not 1 <= int(raw) <= answer.takes:
        raise Refused(409, f"Take {raw[:20]!r} was not started on this link; start a take first.")
    return int(raw)


def upload_create(*, invite: Invite, length: int, metadata: dict[str, str]) -> Upload:
    """A new upload for one take of one question.

    It replaces the unfinished, incomplete uploads of that take and of earlier
    ones of the same question (the candidate sends one take of a question at a
    time; a reload that lost track of its upload starts a new one); uploads of
    other questions go on. Complete ones are kept, since any of them may be
    finished next. So one question holds one incomplete upload and at most its
    takes allowed in all; an upload for an older take than one in flight is refused.
    """
    invite.check_accepts_answer()
    if length <= 0:
        raise Refused(400, "Upload-Length must be a positive whole number of bytes.")
    limit = settings.AURIO_MAX_UPLOAD_BYTES
    if length > limit:
        raise Refused(413, f"The file is {length / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.")
    answer = accept.question_to_answer(invite, _question(invite, metadata))
    take = _take(answer, metadata)
    unfinished = Upload.objects.unfinished().filter(invite=invite, question=answer.question)
    incomplete = unfinished.exclude(offset=F("length"))
    # A take above the count is from before a recruiter reset the takes: superseded too.
    if incomplete.filter(take__gt=take, take__lte=answer.takes).exists():
        raise Refused(409, "A newer take of this question is already being sent through this link.")
    stale = Q(take__lte=take) | Q(take__gt=answer.takes) | Q(take__isnull=True)
    for superseded in incomplete.filter(stale):
        log.info(
            "upload %s (take %s) replaced by a new upload of take %d", superseded.pk, superseded.take, take
        )
        upload_terminate(upload=superseded)
    if unfinished.count() >= invite.takes_allowed(answer.question):
        raise Refused(409, "Too many whole uploads are waiting through this link; submit one of them first.")
    return Upload.objects.create(
        invite=invite,
        question=answer.question,
        length=length,
        take=take,
        filename=metadata.get("filename", "")[:255],
        filetype=metadata.get("filetype", "")[:100],
    )


def _spool(
    stream: Readable, left: int, workdir: Path, checksum: Checksum | None
) -> tuple[Path, int, str, bool]:
    """Copy the request body to a local file, reading at most what the upload
    has `left` and AURIO_MAX_CHUNK_BYTES.

    Returns (path, size, sha256, complete). A client that hangs up part-way
    leaves what arrived, which tus lets the server keep.
    """
    limit = min(left, settings.AURIO_MAX_CHUNK_BYTES)
    path = workdir / "chunk"
    sha256 = hashlib.sha256()
    verify = CHECKSUMS[checksum.algorithm]() if checksum else None
    size, complete, stalled = 0, True, False
    try:
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
                    raise _too_many_bytes(left)
                sha256.update(data)
                if verify:
                    verify.update(data)
                out.write(data)
    except OSError as exc:  # writing failed: the temporary folder's disk is full
        raise _no_room() from exc
    if stalled:
        # The web server's idle timeout (gunicorn.conf.py) fired: what arrived
        # can be kept only when no checksum has to vouch for the whole chunk.
        log.info("upload: a chunk stalled after %d bytes", size)
    if checksum and verify and not complete:
        raise Refused(
            408 if stalled else 400,
            "The chunk did not arrive whole (the connection stalled or dropped); "
            "send it again from Upload-Offset.",
        )
    if checksum and verify and verify.digest() != checksum.digest:
        raise Refused(460, f"The {checksum.algorithm} checksum of the chunk does not match Upload-Checksum.")
    return path, size, sha256.hexdigest(), complete


def _no_room() -> Refused:
    log.exception("upload: no room to receive a chunk")
    return Refused(503, "We couldn't store this part just now; please try again in a minute.")


def _too_many_bytes(left: int) -> Refused:
    if left <= settings.AURIO_MAX_CHUNK_BYTES:
        return Refused(413, "This request carries more bytes than the upload has left (Upload-Length).")
    return Refused(
        413, f"Send at most {settings.AURIO_MAX_CHUNK_BYTES} bytes per request; this one carries more."
    )


def check_chunk_length(upload: Upload, offset: int, declared: int) -> None:
    """Refuse, before reading it, a body too big for one request or for what
    the upload has left, or too small to be worth a stored part (except the last)."""
    left = upload.length - offset
    if declared > min(max(left, 0), settings.AURIO_MAX_CHUNK_BYTES):
        raise _too_many_bytes(left)
    _check_chunk_size(declared, offset, upload.length)


def _check_chunk_size(size: int, offset: int, length: int) -> None:
    minimum = settings.AURIO_MIN_CHUNK_BYTES
    if 0 < size < minimum and offset + size < length:
        raise Refused(400, f"Send at least {minimum} bytes per request (all that is left, for the last one).")


def _gone() -> Refused:
    return Refused(404, "This upload was cancelled or replaced by a newer one; start the upload again.")


def _current_offset(upload: Upload) -> int:
    try:
        upload.refresh_from_db(fields=["offset"])
    except Upload.DoesNotExist:
        raise _gone() from None
    return upload.offset


def upload_append(
    *, upload: Upload, offset: int, stream: Readable, checksum: Checksum | None = None
) -> Upload:
    """Store one PATCH's bytes at `offset` and move the upload's offset past them.

    The offset is read again once the body is in (another request may have
    moved it meanwhile); the chunk is stored and verified before its row is
    written, and acknowledged only once the offset moved past it. A request
    that loses a race removes only its own chunk.
    """
    if upload.is_expired:
        raise Refused(410, "This upload has expired; start the upload again.")
    with temporary_directory("chunk") as tmp:
        path, size, sha256, _ = _spool(stream, max(upload.length - offset, 0), Path(tmp), checksum)
        if offset != _current_offset(upload):
            if _is_a_retry(upload, offset, size, sha256):
                return upload  # the same bytes again: already stored
            raise Refused(409, f"Upload-Offset {offset} does not match the server's offset {upload.offset}.")
        if size == 0:
            return upload  # an empty chunk (a recorder's last one) is fine
        _check_chunk_size(size, offset, upload.length)
        try:
            name = save_verified(default_storage, upload.chunk_name(offset), path, sha256=sha256)
        except OSError as exc:  # a full disk, or the object store unreachable (aurio.storage)
            log.exception("storing the part at %d of upload %s failed", offset, upload.pk)
            raise Refused(
                503, f"We couldn't store this part just now; please try again from offset {offset}."
            ) from exc
    chunk = Chunk(upload=upload, offset=offset, size=size, sha256=sha256, name=name)
    try:
        _insert(chunk)
        moved = Upload.objects.filter(pk=upload.pk, offset=offset).update(offset=offset + size)
    except BaseException:
        _forget(chunk)
        raise
    if not moved:
        _forget(chunk)
        raise Refused(
            409, f"The upload moved on to offset {_current_offset(upload)}; ask for the offset again."
        )
    upload.offset = offset + size
    return upload


def _insert(chunk: Chunk) -> None:
    """Write the chunk's row; the unique (upload, offset) keeps a second writer
    of the same offset out. A row there left by a dead request is removed."""
    try:
        with transaction.atomic():  # a savepoint, so the failed INSERT leaves the connection usable
            chunk.save(force_insert=True)
        return
    except IntegrityError:
        pass
    upload = chunk.upload
    current = _current_offset(upload)  # 404 if the upload was deleted meanwhile (the foreign key)
    leftover = Chunk.objects.filter(
        upload=upload, offset=chunk.offset, offset__gte=current, created_at__lt=timezone.now() - LEFTOVER_AGE
    ).first()
    if leftover is None:
        raise Refused(409, "Another request is writing at this offset; ask for the offset again.")
    if Chunk.objects.filter(pk=leftover.pk).delete()[0]:
        default_storage.delete(leftover.name)
    try:
        with transaction.atomic():
            chunk.save(force_insert=True)
    except IntegrityError:
        raise Refused(409, "Another request is writing at this offset; ask for the offset again.") from None


def _forget(chunk: Chunk) -> None:
    """Remove this request's own chunk (row and file), never another's."""
    with contextlib.suppress(Exception):  # the database may be the reason we are here
        Chunk.objects.filter(pk=chunk.pk).delete()
    with contextlib.suppress(OSError):
        default_storage.delete(chunk.name)


def _is_a_retry(upload: Upload, offset: int, size: int, sha256: str) -> bool:
    return (
        offset < upload.offset
        and Chunk.objects.filter(upload=upload, offset=offset, size=size, sha256=sha256).exists()
    )


def upload_terminate(*, upload: Upload) -> None:
    """Delete the upload's row first (a PATCH in flight then fails cleanly, and
    its own chunk with it), then its stored parts."""
    names = list(Chunk.objects.filter(upload=upload).values_list("name", flat=True))
    Upload.objects.filter(pk=upload.pk).delete()
    for name in names:
        default_storage.delete(name)


def _assemble(upload: Upload, target: Path) -> str:
    """Join the committed chunks into one local file, checking each one's hash.
    Returns the whole file's SHA-256."""
    expected = 0
    whole = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in Chunk.objects.filter(upload=upload, offset__lt=upload.offset).order_by("offset"):
            if chunk.offset != expected:
                raise Refused(
                    409, f"Bytes {expected}–{chunk.offset} of the upload are missing; upload again."
                )
            digest = hashlib.sha256()
            with default_storage.open(chunk.name, "rb") as f:
                while data := f.read(READ_SIZE):
                    digest.update(data)
                    whole.update(data)
                    out.write(data)
            if digest.hexdigest() != chunk.sha256:
                raise Refused(409, "A stored part of the upload is damaged; upload again.")
            expected += chunk.size
    if expected != upload.length:
        raise Refused(409, f"The upload has {expected} of {upload.length} bytes; finish it first.")
    return whole.hexdigest()


class _AssembledUpload(UploadedFile):
    """The finished upload, assembled on local disk, handed to uploads.accept."""

    def __init__(self, path: Path, name: str, content_type: str) -> None:
        super().__init__(path.open("rb"), name=name, content_type=content_type, size=path.stat().st_size)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def _finished(upload: Upload) -> Video | None:
    """The video this upload already became: a finish is safe to repeat, and
    two at once end with the same video (its id is the upload's)."""
    return upload.video or Video.objects.filter(pk=upload.pk).first()


def upload_finish(*, upload: Upload) -> Video:
    """Turn a complete upload into the invite's video, once.

    Calling it again (a double click, a retry after a lost response, a
    concurrent call) returns the same video. The parts are deleted only once
    the video is stored, verified and recorded.
    """
    if (video := _finished(upload)) is not None:
        return _linked(upload, video)
    upload.invite.check_accepts_answer()
    if not upload.is_complete:
        if upload.is_expired:  # a complete one is still finished: its bytes are all here
            raise Refused(410, "This upload has expired; start the upload again.")
        raise Refused(409, f"The upload has {upload.offset} of {upload.length} bytes; finish it first.")
    with temporary_directory("finish") as tmp:
        path = Path(tmp) / "upload"
        try:
            upload.sha256 = _assemble(upload, path)
        except (Refused, OSError) as exc:
            if (video := _finished(upload)) is not None:  # a concurrent finish completed it meanwhile
                return _linked(upload, video)
            if isinstance(exc, Refused):
                raise
            log.exception("putting the parts of upload %s together failed", upload.pk)
            raise Refused(
                503,
                "We couldn't put your upload together just now (the server may be short of space); "
                "everything you sent is kept. Please try again in a minute.",
            ) from exc
        Upload.objects.filter(pk=upload.pk).update(sha256=upload.sha256)
        assembled = _AssembledUpload(path, upload.filename or "answer", upload.filetype)
        try:
            video = accept.video_accept_upload(
                invite=upload.invite, upload=assembled, video_id=upload.pk, question=upload.question
            )
        except Refused as exc:
            if exc.status == 503:
                raise  # keep the parts: the candidate retries
            if (video := _finished(upload)) is not None:
                return _linked(upload, video)
            if exc.status == 409:
                raise  # another upload's answer is in; this one stays until it expires
            Upload.objects.filter(pk=upload.pk).update(failure=exc.detail[:300])
            _delete_chunks(upload)
            raise
        finally:
            assembled.close()
    return _linked(upload, video)


def _linked(upload: Upload, video: Video) -> Video:
    """Point the upload at its video, then let go of its parts and of the
    question's other unfinished uploads: the answer is in (other questions'
    uploads go on)."""
    Upload.objects.filter(pk=upload.pk).update(video=video)
    upload.video = video
    _delete_chunks(upload)
    uploads_drop_unfinished(invite=upload.invite, question_id=video.question_id)
    return video


def _delete_chunks(upload: Upload) -> None:
    for chunk in Chunk.objects.filter(upload=upload):
        if Chunk.objects.filter(pk=chunk.pk).delete()[0]:
            default_storage.delete(chunk.name)


def uploads_drop_unfinished(*, invite: Invite, question_id: uuid.UUID | None = None) -> int:
    """Delete the invite's unfinished uploads of a question (once its answer is
    in, none of them can be sent), or of every question."""
    unfinished = Upload.objects.filter(invite=invite, video__isnull=True)
    if question_id is not None:
        unfinished = unfinished.filter(Q(question_id=question_id) | Q(question__isnull=True))
    dropped = list(unfinished)
    for upload in dropped:
        upload_terminate(upload=upload)
    return len(dropped)


def uploads_expired() -> list[Upload]:
    """Unfinished uploads past their expiry, of an invite that can take no
    answer any more (submitted, revoked or expired), or of a question already
    answered by another upload's video (one that claimed it, finished or not, is kept
    by the caller)."""
    now = timezone.now()
    dead_invite = (
        Q(invite__submitted_at__isnull=False)
        | Q(invite__revoked_at__isnull=False)
        | Q(invite__expires_at__lte=now)
    )
    answered = Answer.objects.filter(submitted_at__isnull=False).values("invite_id", "question_id")
    dead_question = Q(pk__in=[])
    for pair in answered.filter(invite__uploads__video__isnull=True).distinct():
        dead_question |= Q(invite_id=pair["invite_id"], question_id=pair["question_id"])
    return list(
        Upload.objects.filter(
            Q(video__isnull=True) & (Q(expires_at__lte=now) | dead_invite | dead_question)
        ).select_related("invite")
    )


def uploads_expire(*, dry_run: bool = False) -> tuple[int, int]:
    """Delete unfinished uploads that can't be finished any more: (uploads, bytes) removed."""
    count = removed = 0
    for upload in uploads_expired():
        claim = Answer.objects.filter(invite=upload.invite, submission_id=upload.pk).first()
        if claim is not None and claim.has_unfinished_claim:
            continue  # an answer was claimed for this upload's video: its retry completes it
        count += 1
        removed += sum(chunk.size for chunk in upload.chunks.all())
        if not dry_run:
            upload_terminate(upload=upload)
    return count, removed


def sweep_expired_uploads() -> list[str]:
    """The sweep's step (AURIO_SWEEP_STEPS): expire uploads, say what went."""
    expired, size = uploads_expire()
    return [f"{expired} upload(s) that can't be finished deleted ({size / 1e6:.1f} MB)"] if expired else []


def submission_complete(*, answer: Answer, actor: Actor) -> str:
    """Complete an unfinished answer (claimed for a video whose row was never
    written): from its stored original, or from its finished upload; with
    nothing stored, reopen the question so the candidate can send again.
    Returns what was done, in words."""
    try:
        video = accept.video_recover_submission(answer=answer)
    except Refused as exc:
        return f"its stored original can't be used ({exc.detail}); left as it is"
    if video is not None:
        return f"completed: video {video.pk} recorded from its stored original"
    assert answer.submission_id is not None
    upload = Upload.objects.filter(pk=answer.submission_id, video__isnull=True).first()
    if upload is not None and upload.is_complete:
        try:
            video = upload_finish(upload=upload)
        except Refused as exc:
            return f"its upload could not be finished ({exc}); left as it is"
        return f"completed: video {video.pk} recorded from its upload"
    answer_release(answer=answer, video_id=answer.submission_id)
    invite_reopen_if_unanswered(invite=answer.invite)
    audit.record(
        actor=actor,
        action=Action.EDITED,
        target=answer.invite,
        detail={"submission": "reopened", "question": str(answer.question_id)},
    )
    return "nothing of it was stored: reopened, the candidate can send again"
