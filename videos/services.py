"""Writes to videos: accepting an upload and tagging, each in one place."""

from __future__ import annotations

import logging
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError

from audit import services as audit
from audit.services import CANDIDATE, SYSTEM, Action, Actor
from invites.models import Invite, InviteStatus
from invites.services import invite_claim_submission, invite_release_submission
from videos import media
from videos.models import Status, Tag, Video, video_path
from videos.tasks import enqueue_processing

log = logging.getLogger(__name__)


class UploadRefused(Exception):
    """An upload that cannot be accepted; `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class EmptyUpload(UploadRefused):
    status = 400


class InviteUnavailable(UploadRefused):
    status = 410


class AlreadySubmitted(UploadRefused):
    status = 409


class TooLarge(UploadRefused):
    status = 413


class NotAVideo(UploadRefused):
    status = 415


class BadVideo(UploadRefused):
    status = 422


class StorageUnavailable(UploadRefused):
    status = 503


class _LocalFile(File):  # type: ignore[type-arg]
    """A file on local disk that FileSystemStorage may move instead of copy."""

    def temporary_file_path(self) -> str:
        return str(self.name)


def check_invite_accepts_upload(invite: Invite) -> None:
    status = invite.status
    if status == InviteStatus.SUBMITTED:
        raise AlreadySubmitted("An answer has already been submitted through this link.")
    if status == InviteStatus.REVOKED:
        raise InviteUnavailable("This link has been withdrawn.")
    if status == InviteStatus.EXPIRED:
        raise InviteUnavailable("This link has expired.")


def check_upload_size(size: int | None) -> None:
    if not size:
        raise EmptyUpload("The file is empty.")
    limit = settings.AURIO_MAX_UPLOAD_BYTES
    if size > limit:
        raise TooLarge(f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.")


def _format_seconds(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 60}:{whole % 60:02d}"


def _check_duration(info: media.MediaInfo) -> None:
    limit = settings.AURIO_MAX_DURATION_SECONDS
    if info.duration_seconds and info.duration_seconds > limit + settings.AURIO_DURATION_TOLERANCE_SECONDS:
        raise BadVideo(
            f"The video is {_format_seconds(info.duration_seconds)} long; "
            f"the limit is {_format_seconds(limit)}."
        )


def _local_copy(upload: UploadedFile, workdir: Path) -> Path:
    if hasattr(upload, "temporary_file_path"):
        return Path(upload.temporary_file_path())
    path = workdir / "upload"
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def video_accept_upload(*, invite: Invite, upload: UploadedFile) -> Video:
    """Check, make seekable, store, then record a candidate's upload.

    The file is written first; the row exists only once the file is safely
    stored, and a failure after that removes the file again. No transaction is
    needed, so this holds on every database backend.
    """
    check_invite_accepts_upload(invite)
    check_upload_size(upload.size)
    with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        workdir = Path(tmp)
        source = _local_copy(upload, workdir)
        with source.open("rb") as f:
            head = f.read(64)
        try:
            container = media.sniff(head)
            info = media.probe(source)
        except media.NotAVideo as exc:
            raise NotAVideo(str(exc)) from exc
        except media.UnreadableVideo as exc:
            raise BadVideo(str(exc)) from exc
        _check_duration(info)

        stored = source
        seekable = workdir / f"seekable.{container.extension}"
        try:
            if media.remux(source, seekable, container):
                stored = seekable
        except media.UnreadableVideo as exc:
            raise BadVideo(str(exc)) from exc

        video = Video(
            id=uuid.uuid4(),
            invite=invite,
            original_name=(upload.name or "")[:255],
            content_type=container.content_type,
            size=stored.stat().st_size,
            sha256=media.sha256_of(stored),
            duration_seconds=info.duration_seconds,
            width=info.width,
            height=info.height,
            video_codec=info.video_codec,
            audio_codec=info.audio_codec,
            status=Status.UPLOADED,
        )
        try:
            with stored.open("rb") as f:
                name = default_storage.save(
                    video_path(video, f"original.{container.extension}"), _LocalFile(f, name=str(stored))
                )
        except OSError as exc:
            log.exception("storing video %s failed", video.id)
            raise StorageUnavailable(
                "We couldn't store your video just now. Please try again in a minute."
            ) from exc
    video.file.name = name
    video = _record(video, invite)
    # Poster, MP4 rendition and tag suggestion are made in the background.
    enqueue_processing(video)
    try:
        audit.record(
            actor=CANDIDATE,
            action=Action.SUBMITTED,
            target=video,
            detail={"size": video.size, "content_type": video.content_type},
        )
    except DatabaseError:
        # The answer is in: failing it now would make the retry a 409. The
        # video's row says when it came; the log says the event is missing.
        log.exception("audit: the submission of video %s was not recorded", video.pk)
    return video


def _record(video: Video, invite: Invite) -> Video:
    name = video.file.name or ""
    if not invite_claim_submission(invite=invite):
        default_storage.delete(name)
        invite.refresh_from_db()
        check_invite_accepts_upload(invite)
        raise AlreadySubmitted("An answer has already been submitted through this link.")
    try:
        video.save(force_insert=True)
    except BaseException:
        default_storage.delete(name)
        invite_release_submission(invite=invite)
        raise
    return video


def video_set_tag(*, video: Video, tag: str, actor: Actor = SYSTEM, suggested: bool = False) -> Video:
    """Set the tag; the trail records the change (the stored tag before, even
    when `video.tag` was already set by a form). `suggested`: the suggestion was accepted."""
    if tag not in Tag.values:
        raise ValueError(f"Unknown tag {tag!r}; use one of {', '.join(Tag.values)}.")
    before = Video.objects.filter(pk=video.pk).values_list("tag", flat=True).first()
    video.tag = tag
    video.save(update_fields=["tag"])
    if before != tag:
        detail = {"from": before, "to": tag, **({"suggestion": "accepted"} if suggested else {})}
        audit.record(actor=actor, action=Action.TAGGED, target=video, detail=detail)
    return video


def video_delete(*, video: Video, actor: Actor = SYSTEM, retention_days: int | None = None) -> None:
    """Remove the row first, then its files (original, poster, rendition): a
    crash in between leaves orphan files, never a row pointing at nothing.

    The event is written before the row goes, so no deletion goes unrecorded.
    `retention_days`: deleted by the retention policy (recorded as "purged").
    """
    names = [f.name for f in (video.file, video.poster, video.playback) if f and f.name]
    storage = video.file.storage
    detail: dict[str, object] = {"size": video.size + (video.poster_size or 0) + (video.playback_size or 0)}
    action = Action.DELETED
    if retention_days is not None:
        action, detail["older_than_days"] = Action.PURGED, retention_days
    audit.record(actor=actor, action=action, target=video, detail=detail)
    video.delete()
    for name in names:
        storage.delete(name)
