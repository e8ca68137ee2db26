"""Resumable (tus) uploads. Their whole state is here and in the storage
backend, so any web process on any machine can continue an upload."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from interviews.models import Question
from invites.models import Invite


def default_upload_expiry() -> datetime:
    return timezone.now() + timedelta(hours=settings.AURIO_UPLOAD_EXPIRY_HOURS)


class UploadQuerySet(models.QuerySet["Upload"]):
    def unfinished(self) -> UploadQuerySet:
        """Not turned into a video, and not refused."""
        return self.filter(video__isnull=True, failure="")

    def in_flight(self) -> UploadQuerySet:
        """Unfinished and not expired: may still be finished."""
        return self.unfinished().filter(expires_at__gt=timezone.now())


class Upload(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invite = models.ForeignKey(Invite, on_delete=models.CASCADE, related_name="uploads")
    length = models.BigIntegerField(help_text="Upload-Length: the whole file's size in bytes.")
    offset = models.BigIntegerField(default=0, help_text="Bytes received and stored so far.")
    filename = models.CharField(max_length=255, blank=True)
    filetype = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=default_upload_expiry, db_index=True)
    video = models.OneToOneField(
        "videos.Video", null=True, blank=True, on_delete=models.SET_NULL, related_name="upload"
    )
    failure = models.CharField(max_length=300, blank=True, help_text="Why the finished file was refused.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the bytes received, once assembled.")
    question = models.ForeignKey(
        Question, null=True, on_delete=models.CASCADE, related_name="+", help_text="The question it answers."
    )
    take = models.PositiveIntegerField(
        null=True, blank=True, help_text="The take (counted by the invite's answer) this upload carries."
    )

    objects = UploadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.invite.email}: {self.offset}/{self.length} bytes"

    @property
    def is_complete(self) -> bool:
        return self.offset == self.length

    @property
    def is_expired(self) -> bool:
        return self.video_id is None and timezone.now() >= self.expires_at

    def chunk_name(self, offset: int) -> str:
        # The random suffix keeps two racing writers of one offset apart.
        return f"uploads/{self.id}/{offset:015d}-{uuid.uuid4().hex[:8]}.part"


class Chunk(models.Model):
    """One PATCH's bytes, stored as its own object (S3 cannot append).

    Chunks below the upload's offset are committed; one at or past it is a
    leftover of a request that died between storing and committing.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="chunks")
    offset = models.BigIntegerField()
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    name = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["offset"]
        constraints = [models.UniqueConstraint(fields=["upload", "offset"], name="one_chunk_per_offset")]

    def __str__(self) -> str:
        return f"{self.upload_id}@{self.offset}+{self.size}"
