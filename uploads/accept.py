"""A whole file becoming the invite's answer: check, make seekable, store,
claim the invite, record the video.

Both ways a file arrives end here: the multipart upload (`POST /upload/{token}`)
hands over the request's file, a finished resumable upload (uploads.services)
its assembled parts. A refusal is `Refused` with the status to answer.
"""

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
from audit.services import CANDIDATE, Action
from aurio.errors import Refused
from aurio.storage import READ_SIZE, local_path, save_verified, sha256_of, temporary_directory
from interviews.models import Question
from invites.models import Answer, Invite
from invites.services import (
    answer_claim,
    answer_for,
    answer_release,
    invite_complete_if_answered,
    invite_next_question,
)
from videos import media
from videos.models import Status, Video, video_path
from videos.tasks import enqueue_processing

log = logging.getLogger(__name__)


# An unfinished claim (the invite marked submitted by a video whose row never
# came) younger than this may still be completed by the request that made it.
UNFINISHED_CLAIM_GRACE = timedelta(seconds=60)


def check_upload_size(size: int | None) -> None:
    if not size:
        raise Refused(400, "The file is empty.")
    limit = settings.AURIO_MAX_UPLOAD_BYTES
    if size > limit:
        raise Refused(413, f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.")


def _check_duration(info: media.MediaInfo, limit_seconds: int) -> None:
    if (too_long := media.too_long(info.duration_seconds, limit_seconds)) is not None:
        raise Refused(422, too_long)


def question_to_answer(invite: Invite, question: Question | None) -> Answer:
    """The answer a file is for: to `question`, or to the first question still
    to answer; refused (409) when there is none left or it is answered."""
    invite.check_accepts_answer()
    if question is None:
        question = invite_next_question(invite)
        if question is None:
            raise Refused(409, "An answer has already been submitted through this link.")
    if question.practice:
        raise Refused(422, "A practice question's answer is never sent.")
    answer = answer_for(invite=invite, question=question)
    answer.check_accepts_answer()
    return answer


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
        raise Refused(415, str(exc)) from exc
    except media.UnreadableVideo as exc:
        raise Refused(422, str(exc)) from exc


def _new_video(
    *,
    video_id: uuid.UUID,
    invite: Invite,
    question: Question,
    name: str,
    path: Path,
    container: media.Container,
    info: media.MediaInfo,
) -> Video:
    return Video(
        id=video_id,
        invite=invite,
        question=question,
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


def video_accept_upload(
    *,
    invite: Invite,
    upload: UploadedFile,
    video_id: uuid.UUID | None = None,
    question: Question | None = None,
) -> Video:
    """Check, make seekable, store, then record a candidate's upload as their
    answer to `question` (by default the first question still to answer).

    The file is stored and verified first; then the answer is claimed for the
    video and the row written. A failure before the claim removes the stored
    file again; a crash between claim and row is completed by the next request
    with the same `video_id` (a resumable upload passes its own id, so a retry
    of its finish, or a concurrent one, ends with the same video) or by
    `reconcile --fix`. Once every question has its video the invite is
    submitted. No transaction is needed, so this holds on every database backend.
    """
    video_id = video_id or uuid.uuid4()
    if done := Video.objects.filter(pk=video_id, invite=invite).first():
        invite_complete_if_answered(invite=invite)
        return done
    answer = question_to_answer(invite, question)
    check_upload_size(upload.size)
    with temporary_directory("accept") as tmp:
        workdir = Path(tmp)
        try:
            source = _local_copy(upload, workdir)
        except OSError as exc:  # no room in the temporary folder
            raise _unavailable(exc) from exc
        container, info = _examine(source)
        _check_duration(info, invite.answer_seconds(answer.question))

        stored = source
        seekable = workdir / f"seekable.{container.extension}"
        try:
            if media.remux(source, seekable, container):
                stored = seekable
        except media.UnreadableVideo as exc:
            raise Refused(422, str(exc)) from exc

        video = _new_video(
            video_id=video_id,
            invite=invite,
            question=answer.question,
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
    recorded = _record(video, answer)
    if recorded is not video:
        return recorded  # a concurrent request completed this very submission
    _submitted(video)
    return video


def _unavailable(exc: OSError) -> Refused:
    log.error("storing an answer failed: %s", exc, exc_info=exc)
    return Refused(503, "We couldn't store your video just now. Please try again in a minute.")


def _submitted(video: Video) -> None:
    invite_complete_if_answered(invite=video.invite)
    # Poster, MP4 rendition and tag suggestion are made in the background.
    enqueue_processing(video)
    try:
        audit.record(
            actor=CANDIDATE,
            action=Action.SUBMITTED,
            target=video,
            detail={
                "size": video.size,
                "content_type": video.content_type,
                "question": str(video.question_id),
            },
        )
    except DatabaseError:
        # The answer is in: failing it now would make the retry a 409. The
        # video's row says when it came; the log says the event is missing.
        log.exception("audit: the submission of video %s was not recorded", video.pk)


def _claim(video: Video, answer: Answer) -> bool:
    if answer_claim(answer=answer, video_id=video.id):
        return True
    answer.refresh_from_db()
    stale = answer.submitted_at is not None and answer.submitted_at < timezone.now() - UNFINISHED_CLAIM_GRACE
    if answer.has_unfinished_claim and stale:
        # Another request claimed the answer and died before writing its row:
        # this submission takes its place.
        log.warning(
            "invite %s, question %s: taking over the unfinished claim of video %s",
            answer.invite_id,
            answer.question_id,
            answer.submission_id,
        )
        return answer_claim(answer=answer, video_id=video.id, replacing=answer.submission_id)
    return False


def _record(video: Video, answer: Answer) -> Video:
    """Claim the answer for the video, then write its row. Returns the video
    recorded: this one, or the same submission completed by a concurrent request."""
    name = video.file.name or ""
    if not _claim(video, answer):
        default_storage.delete(name)
        answer.invite.refresh_from_db()
        answer.invite.check_accepts_answer()
        if answer.has_unfinished_claim:
            raise Refused(
                503, "Your answer is still being saved from an earlier attempt. Please try again in a minute."
            )
        answer.check_accepts_answer()
        raise Refused(409, "This question has already been answered.")
    try:
        with transaction.atomic():  # a savepoint: a failed INSERT leaves the connection usable
            video.save(force_insert=True)
    except IntegrityError:
        existing = Video.objects.filter(pk=video.pk).first()
        default_storage.delete(name)
        if existing is not None:
            return existing  # the same upload's other finish wrote it first
        answer_release(answer=answer, video_id=video.id)
        raise
    except BaseException:
        default_storage.delete(name)
        answer_release(answer=answer, video_id=video.id)
        raise
    return video


def video_recover_submission(*, answer: Answer) -> Video | None:
    """Write the row of an unfinished claim from its stored original (left by a
    request that died between claiming the answer and writing the row), so
    recruiters see the answer. None when no original was stored for it."""
    if not answer.has_unfinished_claim:
        return None
    assert answer.submission_id is not None
    invite = answer.invite
    video = Video(id=answer.submission_id, invite=invite, question=answer.question)
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
            video_id=answer.submission_id,
            invite=invite,
            question=answer.question,
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
