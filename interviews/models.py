"""Interviews: a role's screening, an ordered list of questions.

An invite belongs to an interview; a candidate answers its questions one at a
time (invites.models.Answer). The seed's single-answer invites belong to the
*default interview* (one question), which the migration creates.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

ANSWER_SECONDS_MIN = 10
ANSWER_SECONDS_MAX = 300
THINKING_SECONDS_MAX = 300
RETAKES_MAX = 10
MAX_QUESTIONS = 50
LOGO_MAX_BYTES = 512 * 1024
QUESTION_VIDEO_MAX_BYTES = 100 * 1000 * 1000
DEFAULT_QUESTION_TEXT = "Please introduce yourself and tell us why this role interests you."

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# What a logo may be, by its first bytes (never by its name or declared type).
_LOGO_MAGIC = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"GIF87a": ("gif", "image/gif"),
    b"GIF89a": ("gif", "image/gif"),
}


def validate_colour(value: str) -> None:
    if value and not _COLOUR.fullmatch(value):
        raise ValidationError("Give the colour as #rrggbb, e.g. #1d4ed8.")


def logo_type(head: bytes) -> tuple[str, str] | None:
    """(extension, content type) of a logo from its first bytes, or None."""
    for magic, kind in _LOGO_MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ("webp", "image/webp")
    return None


def _first_bytes(file: object, count: int) -> bytes | None:
    """The upload's first bytes (its position left at the start), or None for no file to read."""
    if getattr(file, "open", None) is None:
        return None
    file.seek(0)  # type: ignore[attr-defined]
    head: bytes = file.read(count)  # type: ignore[attr-defined]
    file.seek(0)  # type: ignore[attr-defined]
    return head


def validate_logo(file: object) -> None:
    size = getattr(file, "size", 0) or 0
    if size > LOGO_MAX_BYTES:
        raise ValidationError(f"The logo is {size / 1024:.0f} KB; the limit is {LOGO_MAX_BYTES // 1024} KB.")
    head = _first_bytes(file, 16)
    if head is not None and logo_type(head) is None:
        raise ValidationError("The logo must be a PNG, JPEG, GIF or WebP image.")


# What a recruiter's question video may be, by its first bytes: the containers
# browsers play (MP4/QuickTime plays everywhere; WebM not in older Safari).
def question_video_type(head: bytes) -> str | None:
    """The content type of a question video from its first bytes, or None."""
    if head[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in head[:64]:
        return "video/webm"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    return None


def validate_question_video(file: object) -> None:
    size = getattr(file, "size", 0) or 0
    if size > QUESTION_VIDEO_MAX_BYTES:
        raise ValidationError(
            f"The video is {size / 1e6:.0f} MB; the limit is {QUESTION_VIDEO_MAX_BYTES // 1_000_000} MB."
        )
    head = _first_bytes(file, 64)
    if head is not None and question_video_type(head) is None:
        raise ValidationError("The question video must be an MP4, MOV or WebM file.")


def question_video_path(question: Question, filename: str) -> str:
    return f"interviews/{question.interview_id}/question-{question.id}-{uuid.uuid4().hex[:8]}"


def logo_path(interview: Interview, filename: str) -> str:
    return f"interviews/{interview.id}/logo-{uuid.uuid4().hex[:8]}"


class InterviewQuerySet(models.QuerySet["Interview"]):
    def default(self) -> Interview:
        """The interview invites made without one belong to (the migration makes it)."""
        found: Interview | None = Interview.objects.filter(is_default=True).first()
        if found is not None:
            return found
        # Deleted by hand: made again, as the migration made it.
        interview = Interview.objects.create(title="Video answer", is_default=True)
        interview.questions.create(position=0, text=DEFAULT_QUESTION_TEXT)
        return interview


class Interview(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200, help_text="The role, as candidates see it.")
    intro = models.TextField(blank=True, help_text="Shown to candidates before they start.")
    closing = models.TextField(blank=True, help_text="Shown to candidates once they have answered.")
    deadline_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days a new invite's link works. Blank: the deployment's default (AURIO_INVITE_DAYS).",
    )
    accent_colour = models.CharField(
        max_length=7, blank=True, validators=[validate_colour], help_text="#rrggbb, for the candidate's page."
    )
    logo = models.FileField(
        upload_to=logo_path,
        max_length=300,
        blank=True,
        validators=[validate_logo],
        help_text=f"PNG, JPEG, GIF or WebP, at most {LOGO_MAX_BYTES // 1024} KB.",
    )
    is_default = models.BooleanField(
        default=False, editable=False, help_text="Invites made without an interview belong to this one."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = InterviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_interview"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def logo_url(self) -> str:
        return reverse("interviews:logo", args=[self.id]) if self.logo else ""

    def answered_questions(self) -> models.QuerySet[Question]:
        """The questions a candidate must answer (practice ones are not sent)."""
        return self.questions.filter(practice=False)


class Question(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0, help_text="Questions are asked in this order.")
    text = models.TextField(help_text="What the candidate is asked.")
    answer_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(ANSWER_SECONDS_MIN), MaxValueValidator(ANSWER_SECONDS_MAX)],
        help_text="Answer time, 10–300 seconds. Blank: the deployment's default "
        "(AURIO_MAX_DURATION_SECONDS, 2 minutes).",
    )
    thinking_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(THINKING_SECONDS_MAX)],
        help_text="Seconds to read and think before recording starts by itself; 0 for none.",
    )
    retakes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(RETAKES_MAX)],
        help_text="Takes after the first, 0–10. Blank: the deployment's default (AURIO_MAX_ATTEMPTS − 1).",
    )
    practice = models.BooleanField(
        default=False, help_text="A practice question: recorded and watched in the browser, never sent."
    )
    video = models.FileField(
        upload_to=question_video_path,
        max_length=300,
        blank=True,
        validators=[validate_question_video],
        help_text="Optional: you asking the question, shown above its text. MP4 (H.264) plays in every "
        "browser; at most 100 MB.",
    )

    class Meta:
        ordering = ["interview", "position", "id"]

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= 60 else text[:59] + "…"

    @property
    def limit_seconds(self) -> int:
        return self.answer_seconds or settings.AURIO_MAX_DURATION_SECONDS

    @property
    def takes_allowed(self) -> int:
        return 1 + (self.retakes if self.retakes is not None else settings.AURIO_MAX_ATTEMPTS - 1)
