from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Case, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone

from aurio.errors import Refused
from interviews.models import Interview, Question

EXTRA_TIME_MAX_PERCENT = 200
EXTRA_TAKES_MAX = 10


def new_nonce() -> str:
    return secrets.token_hex(16)


def token_for_nonce(nonce: str) -> str:
    """The candidate's secret: HMAC(INVITE_TOKEN_KEY, nonce), 192 bits, URL-safe.

    Only the nonce and the token's SHA-256 are stored, so a database dump alone
    cannot produce a working link, while staff (who run with the key) can
    always show the link again.
    """
    digest = hmac.new(
        settings.INVITE_TOKEN_KEY.encode(), f"aurio-invite:{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def default_expiry() -> datetime:
    return timezone.now() + timedelta(days=settings.AURIO_INVITE_DAYS)


class InviteStatus(models.TextChoices):
    OPEN = "open", "open"
    OPENED = "opened", "opened"
    SUBMITTED = "submitted", "submitted"
    EXPIRED = "expired", "expired"
    REVOKED = "revoked", "revoked"


def _status_rules(now: datetime) -> list[tuple[InviteStatus, Q]]:
    """The invite-status rule for many rows, in order of precedence (the first
    that holds wins): the same order as `Invite.status` for one row."""
    return [
        (InviteStatus.REVOKED, Q(revoked_at__isnull=False)),
        (InviteStatus.SUBMITTED, Q(submitted_at__isnull=False)),
        (InviteStatus.EXPIRED, Q(expires_at__lte=now)),
        (InviteStatus.OPENED, Q(opened_at__isnull=False)),
        (InviteStatus.OPEN, Q()),
    ]


def usable_now() -> Q:
    """Open or opened: neither revoked, submitted nor expired (`Invite.is_usable`)."""
    return Q(revoked_at__isnull=True, submitted_at__isnull=True, expires_at__gt=timezone.now())


class InviteQuerySet(QuerySet["Invite"]):
    def with_status(self) -> InviteQuerySet:
        """Annotated with `current_status`, by the same rule as `Invite.status`."""
        rules = _status_rules(timezone.now())
        return self.annotate(
            current_status=Case(
                *(When(condition, then=Value(status.value)) for status, condition in rules[:-1]),
                default=Value(InviteStatus.OPEN.value),
                output_field=models.CharField(),
            )
        )

    def in_status(self, status: InviteStatus | str) -> InviteQuerySet:
        """The invites whose status is `status` now."""
        return self.with_status().filter(current_status=status)  # type: ignore[misc]

    def usable(self) -> InviteQuerySet:
        """Invites whose candidate can still record and submit (open or opened)."""
        return self.filter(usable_now())


class Invite(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(help_text="Where the candidate is reached.")
    name = models.CharField(max_length=200, blank=True, help_text="The candidate's name, if known.")
    nonce = models.CharField(max_length=32, default=new_nonce, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(
        default=default_expiry, help_text="The link stops working after this moment."
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
    opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    interview = models.ForeignKey(
        Interview,
        on_delete=models.PROTECT,
        related_name="invites",
        help_text="The questions the candidate answers.",
    )
    extra_time_percent = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(EXTRA_TIME_MAX_PERCENT)],
        help_text="More answer time on every question, e.g. 50 for ×1.5 (an accommodation).",
    )
    extra_takes = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(EXTRA_TAKES_MAX)],
        help_text="Takes on every question beyond what the interview allows.",
    )
    sent_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the invitation email last went out."
    )
    reminded_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When a reminder email last went out."
    )
    started_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the candidate started their first take."
    )

    objects = InviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def save(self, *args: object, **kwargs: object) -> None:
        if self.interview_id is None:
            self.interview = Interview.objects.default()
        if not self.token_hash:
            self.token_hash = hash_token(self.token)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def token(self) -> str:
        """The secret in the candidate's link; "" if INVITE_TOKEN_KEY changed since it was made
        (the link is dead then; issue a new one)."""
        token = token_for_nonce(self.nonce)
        if self.token_hash and hash_token(token) != self.token_hash:
            return ""
        return token

    @property
    def link(self) -> str:
        token = self.token
        return settings.SITE_URL + reverse("invites:record", args=[token]) if token else ""

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_usable(self) -> bool:
        """Can the candidate still record and submit through this link?"""
        return not (self.is_revoked or self.is_expired or self.submitted_at)

    def check_accepts_answer(self) -> None:
        """Refuse (409, 410) when this link can't take an answer any more."""
        status = self.status
        if status == InviteStatus.SUBMITTED:
            raise Refused(409, "An answer has already been submitted through this link.")
        if status == InviteStatus.REVOKED:
            raise Refused(410, "This link has been withdrawn.")
        if status == InviteStatus.EXPIRED:
            raise Refused(410, "This link has expired.")

    def answer_seconds(self, question: Question) -> int:
        """The question's answer time for this candidate (with their extra time)."""
        return math.ceil(question.limit_seconds * (100 + self.extra_time_percent) / 100)

    def takes_allowed(self, question: Question) -> int:
        return question.takes_allowed + self.extra_takes

    @property
    def status(self) -> InviteStatus:
        if self.revoked_at:
            return InviteStatus.REVOKED
        if self.submitted_at:
            return InviteStatus.SUBMITTED
        if self.is_expired:
            return InviteStatus.EXPIRED
        if self.opened_at:
            return InviteStatus.OPENED
        return InviteStatus.OPEN


class Answer(models.Model):
    """A candidate's answer to one question of their interview: the takes they
    started, and the video they submitted (claimed by id before its row is
    written, in one conditional UPDATE, so a request that dies in between can
    be completed by its retry or by `reconcile --fix`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invite = models.ForeignKey(Invite, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    takes = models.PositiveIntegerField(default=0, help_text="Recordings the candidate started.")
    revealed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the candidate was first shown the question (its thinking time began).",
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submission_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="The video the answer claimed (set with submitted_at, in one UPDATE).",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invite", "question"], name="one_answer_per_question")]

    def __str__(self) -> str:
        return f"{self.invite}: {self.question}"

    @property
    def has_unfinished_claim(self) -> bool:
        """Claimed for a video whose row was never written (the request died in
        between): the answer can still be completed."""
        return (
            self.submitted_at is not None
            and self.submission_id is not None
            and not self.invite.videos.filter(pk=self.submission_id).exists()  # type: ignore[attr-defined]
        )

    def thinking_seconds_left(self, now: datetime) -> int:
        """Thinking time left on the question: all of it until it is shown, then what the
        clock leaves (a reload does not give it again)."""
        thinking = self.question.thinking_seconds
        if self.revealed_at is None:
            return thinking
        return max(0, math.ceil(thinking - (now - self.revealed_at).total_seconds()))

    def check_accepts_answer(self) -> None:
        """Refuse (409) a second answer to the question."""
        if self.submitted_at is not None and not self.has_unfinished_claim:
            raise Refused(409, "This question has already been answered.")
