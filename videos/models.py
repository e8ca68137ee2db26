from __future__ import annotations

import uuid

from django.db import models
from django.urls import reverse
from django.utils import timezone

from interviews.models import Question
from invites.models import Invite


class Tag(models.TextChoices):
    PENDING = "pending", "pending"
    REVIEW = "review", "review"
    ADVANCE = "advance", "advance"
    PASS = "pass", "pass"


class Status(models.TextChoices):
    UPLOADED = "uploaded", "uploaded"
    PROCESSING = "processing", "processing"
    READY = "ready", "ready"
    FAILED = "failed", "failed"


def video_path(video: Video, filename: str) -> str:
    return f"videos/{video.id}/{filename}"


class VideoQuerySet(models.QuerySet["Video"]):
    def unprocessed(self) -> VideoQuerySet:
        """Waiting for processing, or being processed."""
        return self.filter(status__in=[Status.UPLOADED, Status.PROCESSING])


class Video(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invite = models.ForeignKey(Invite, on_delete=models.PROTECT, related_name="videos")
    question = models.ForeignKey(
        Question,
        on_delete=models.PROTECT,
        related_name="videos",
        help_text="The question this video answers.",
    )
    file = models.FileField(upload_to=video_path, max_length=300, editable=False)
    original_name = models.CharField(max_length=255, blank=True, editable=False)
    content_type = models.CharField(max_length=100, editable=False)
    size = models.BigIntegerField(editable=False, help_text="Bytes stored.")
    sha256 = models.CharField(max_length=64, editable=False)
    duration_seconds = models.FloatField(null=True, blank=True, editable=False)
    width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    video_codec = models.CharField(max_length=40, blank=True, editable=False)
    audio_codec = models.CharField(max_length=40, blank=True, editable=False)
    tag = models.CharField(max_length=10, choices=Tag.choices, default=Tag.PENDING, db_index=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.UPLOADED, editable=False, db_index=True
    )
    failure_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    # Made by background processing (videos.processing). Each processing run
    # writes new files named after its run number, and the row switches to them
    # in one conditional UPDATE: a reader sees the old set or the new, never half.
    poster = models.FileField(max_length=300, blank=True, editable=False, help_text="JPEG still.")
    poster_size = models.BigIntegerField(null=True, blank=True, editable=False)
    playback = models.FileField(
        max_length=300, blank=True, editable=False, help_text="MP4 (H.264/AAC, faststart) for every browser."
    )
    playback_size = models.BigIntegerField(null=True, blank=True, editable=False)
    playback_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    playback_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    processing_run = models.PositiveIntegerField(
        default=0, editable=False, help_text="Processing runs started so far; names the output files."
    )
    processing_tries = models.PositiveIntegerField(
        default=0, editable=False, help_text="Runs started since processing was last asked for."
    )
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    task_id = models.CharField(max_length=64, blank=True, editable=False, help_text="Last task queued.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Last sign of life of the run in progress."
    )
    processed_at = models.DateTimeField(null=True, blank=True, editable=False)

    suggested_tag = models.CharField(max_length=10, choices=Tag.choices, blank=True, editable=False)
    suggestion_reasons = models.JSONField(default=list, blank=True, editable=False)
    analysis = models.JSONField(
        default=dict, blank=True, editable=False, help_text="Measurements behind the suggestion."
    )

    objects = VideoQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.invite.email} — {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.question_id is None:  # written without one (tests, old scripts): the invite's first question
            self.question = self.invite.interview.questions.filter(practice=False).first()  # type: ignore[assignment]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("videos:detail", args=[self.id])

    @property
    def stream_url(self) -> str:
        return reverse("api:stream_video", args=[self.id])

    @property
    def etag(self) -> str:
        return f'"{self.sha256[:40]}"'

    @property
    def playback_url(self) -> str:
        """What a player should load: the MP4 rendition once made, else the original."""
        if self.playback:
            return reverse("api:playback_video", args=[self.id])
        return self.stream_url

    @property
    def poster_url(self) -> str | None:
        return reverse("api:video_poster", args=[self.id]) if self.poster else None

    @property
    def is_settled(self) -> bool:
        """Processing has finished, one way or the other."""
        return self.status in (Status.READY, Status.FAILED)
