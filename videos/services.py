"""Writes to videos: accepting an upload and tagging, each in one place."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from audit import services as audit
from audit.services import CANDIDATE, SYSTEM, Action, Actor
from aurio.storage import READ_SIZE, local_path, save_verified, sha256_of, temporary_directory
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


# An unfinished claim (the invite marked submitted by a video whose row never
# came) younger than this may still be completed by the request that made it.
UNFINISHED_CLAIM_GRACE = timedelta(seconds=60)


def unfinished_claim(invite: Invite) -> bool:
    """The invite was claimed for a video whose row was never written (the
    request died in between): the submission can still be completed."""
    return (
        invite.submitted_at is not None
        and invite.submission_id is not None
        and not Video.objects.filter(pk=invite.submission_id).exists()
    )


def check_invite_accepts_upload(invite: Invite) -> None:
    status = invite.status
    if status == InviteStatus.SUBMITTED and not unfinished_claim(invite):
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


def _examine(source: Path) -> tuple[media.Container, media.MediaInfo]:
    """What the file is, or the refusal a person understands."""
    with source.open("rb") as f:
        head = f.read(64)
    try:
        return media.sniff(head), media.probe(source)
    except media.NotAVideo as exc:
        raise NotAVideo(str(exc)) from exc
    except media.UnreadableVideo as exc:
        raise BadVideo(str(exc)) from exc


def _new_video(
    *,
    video_id: uuid.UUID,
    invite: Invite,
    name: str,
    path: Path,
    container: media.Container,
    info: media.MediaInfo,
) -> Video:
    return Video(
        id=video_id,
        invite=invite,
        original_name=name[:255],
        content_type=container.content_type,
        size=path.stat().st_size,
        sha256=sha256_of(path),
        duration_seconds=info.duration_seconds,
        width=info.width,
        height=info.height,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        status=Status.UPLOADED,
    )


def video_accept_upload(*, invite: Invite, upload: UploadedFile, video_id: uuid.UUID | None = None) -> Video:
    """Check, make seekable, store, then record a candidate's upload.

    The file is stored and verified first; then the invite is claimed for the
    video and the row written. A failure before the claim removes the stored
    file again; a crash between claim and row is completed by the next request
    with the same `video_id` (a resumable upload passes its own id, so a retry
    of its finish, or a concurrent one, ends with the same video) or by
    `reconcile --fix`. No transaction is needed, so this holds on every
    database backend.
    """
    video_id = video_id or uuid.uuid4()
    if invite.submission_id == video_id and (done := Video.objects.filter(pk=video_id).first()):
        return done
    check_invite_accepts_upload(invite)
    check_upload_size(upload.size)
    with temporary_directory("accept") as tmp:
        workdir = Path(tmp)
        try:
            source = _local_copy(upload, workdir)
        except OSError as exc:  # no room in the temporary folder
            raise _unavailable(exc) from exc
        container, info = _examine(source)
        _check_duration(info)

        stored = source
        seekable = workdir / f"seekable.{container.extension}"
        try:
            if media.remux(source, seekable, container):
                stored = seekable
        except media.UnreadableVideo as exc:
            raise BadVideo(str(exc)) from exc

        video = _new_video(
            video_id=video_id,
            invite=invite,
            name=upload.name or "",
            path=stored,
            container=container,
            info=info,
        )
        try:
            name = save_verified(
                default_storage,
                video_path(video, f"original.{container.extension}"),
                stored,
                sha256=video.sha256,
            )
        except OSError as exc:
            raise _unavailable(exc) from exc
    video.file.name = name
    recorded = _record(video, invite)
    if recorded is not video:
        return recorded  # a concurrent request completed this very submission
    _submitted(video)
    return video


def _unavailable(exc: OSError) -> StorageUnavailable:
    log.error("storing an answer failed: %s", exc, exc_info=exc)
    return StorageUnavailable("We couldn't store your video just now. Please try again in a minute.")


def _submitted(video: Video) -> None:
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


def _claim(video: Video, invite: Invite) -> bool:
    if invite_claim_submission(invite=invite, video_id=video.id):
        return True
    invite.refresh_from_db()
    stale = invite.submitted_at is not None and invite.submitted_at < timezone.now() - UNFINISHED_CLAIM_GRACE
    if unfinished_claim(invite) and stale:
        # Another request claimed the invite and died before writing its row:
        # this submission takes its place.
        log.warning(
            "invite %s: taking over the unfinished claim of video %s", invite.pk, invite.submission_id
        )
        return invite_claim_submission(invite=invite, video_id=video.id, replacing=invite.submission_id)
    return False


def _record(video: Video, invite: Invite) -> Video:
    """Claim the invite for the video, then write its row. Returns the video
    recorded: this one, or the same submission completed by a concurrent request."""
    name = video.file.name or ""
    if not _claim(video, invite):
        default_storage.delete(name)
        check_invite_accepts_upload(invite)
        if unfinished_claim(invite):
            raise StorageUnavailable(
                "Your answer is still being saved from an earlier attempt. Please try again in a minute."
            )
        raise AlreadySubmitted("An answer has already been submitted through this link.")
    try:
        with transaction.atomic():  # a savepoint: a failed INSERT leaves the connection usable
            video.save(force_insert=True)
    except IntegrityError:
        existing = Video.objects.filter(pk=video.pk).first()
        default_storage.delete(name)
        if existing is not None:
            return existing  # the same upload's other finish wrote it first
        invite_release_submission(invite=invite, video_id=video.id)
        raise
    except BaseException:
        default_storage.delete(name)
        invite_release_submission(invite=invite, video_id=video.id)
        raise
    return video


def video_recover_submission(*, invite: Invite) -> Video | None:
    """Write the row of an unfinished claim from its stored original (left by a
    request that died between claiming the invite and writing the row), so
    recruiters see the answer. None when no original was stored for it."""
    if not unfinished_claim(invite):
        return None
    assert invite.submission_id is not None
    video = Video(id=invite.submission_id, invite=invite)
    folder = video_path(video, "").rstrip("/")
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return None
    originals = sorted(f for f in files if f.startswith("original"))
    if not originals:
        return None
    name = f"{folder}/{originals[0]}"
    with temporary_directory("recover") as tmp:
        local = local_path(default_storage, name)
        if local is None:
            local = Path(tmp) / originals[0]
            with default_storage.open(name, "rb") as src, local.open("wb") as out:
                while data := src.read(READ_SIZE):
                    out.write(data)
        container, info = _examine(local)
        video = _new_video(
            video_id=invite.submission_id,
            invite=invite,
            name=originals[0],
            path=local,
            container=container,
            info=info,
        )
    video.file.name = name
    try:
        with transaction.atomic():
            video.save(force_insert=True)
    except IntegrityError:
        return Video.objects.filter(pk=video.pk).first()
    _submitted(video)
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
    video_id = video.pk
    video.delete()
    # The invite stays submitted; its claim is settled, not unfinished (no retry may replace it).
    Invite.objects.filter(pk=video.invite_id, submission_id=video_id).update(submission_id=None)
    for name in names:
        storage.delete(name)
