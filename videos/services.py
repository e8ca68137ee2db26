"""Writes to stored videos: tagging, reprocessing, failing and deleting, each in one place."""

from __future__ import annotations

from audit import services as audit
from audit.services import SYSTEM, Action, Actor
from invites.models import Answer
from videos import processing, tasks
from videos.models import Status, Tag, Video


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
    # The answer stays given; its claim is settled, not unfinished (no retry may replace it).
    Answer.objects.filter(invite_id=video.invite_id, submission_id=video_id).update(submission_id=None)
    for name in names:
        storage.delete(name)


def video_reprocess(*, video: Video, actor: Actor, here: bool = False) -> str:
    """Process the video again from its original, whatever its state, and
    record it in the trail. Queued for the worker ("queued", or "not queued"
    when the queue is down), or with `here` run in this process ("ready",
    "failed"...)."""
    if here:
        processing.mark_waiting(video, reset_tries=True)
        outcome = processing.process_here(str(video.pk))
        detail: dict[str, object] = {"outcome": outcome}
    else:
        queued = tasks.reprocess(video)
        outcome = "queued" if queued else "not queued"
        detail = {"queued": queued}
    audit.record(actor=actor, action=Action.REPROCESSED, target=video, detail=detail)
    return outcome


def video_mark_failed(*, video: Video, reason: str, actor: Actor) -> bool:
    """Mark the video failed (as processing does) for a fault found outside
    processing, such as its original missing from storage; recorded in the
    trail. False if it was already failed for that very reason (a second
    `reconcile --fix` changes nothing)."""
    not_yet = Video.objects.filter(pk=video.pk).exclude(status=Status.FAILED, failure_reason=reason[:300])
    if not processing.mark_failed(not_yet, reason):
        return False
    audit.record(actor=actor, action=Action.MARKED_FAILED, target=video, detail={"reason": reason})
    return True
