"""The audit trail: who created, changed, revealed or deleted what, and when."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    CREATED = "created", "created"
    EDITED = "edited", "edited"
    LINK_REISSUED = "link_reissued", "link reissued"
    REVOKED = "revoked", "revoked"
    EXTENDED = "extended", "deadline extended"
    EMAILED = "emailed", "emailed"
    OPENED = "opened", "opened"
    SUBMITTED = "submitted", "submitted"
    VIEWED = "viewed", "viewed"
    TAGGED = "tagged", "tagged"
    REPROCESSED = "reprocessed", "reprocessed"
    MARKED_FAILED = "marked_failed", "marked failed"
    DELETED = "deleted", "deleted"
    PURGED = "purged", "purged (retention)"


class ObjectType(models.TextChoices):
    INTERVIEW = "interview", "interview"
    INVITE = "invite", "invite"
    VIDEO = "video", "video"
    FILE = "file", "stored file"


class AuditEvent(models.Model):
    """One thing that happened. The object is named by type, id and label, not by
    a foreign key, so the event outlives the invite or video it describes; the
    actor's label outlives the user account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,  # the (actor, at) index serves
        help_text="The staff account, while it exists.",
    )
    actor_label = models.CharField(
        "actor", max_length=200, help_text="Who: a username (and API token prefix), a command, the candidate."
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    object_id = models.UUIDField(null=True, blank=True, help_text="The invite's or video's id.")
    object_label = models.CharField("object", max_length=300, blank=True)
    invite_ref = models.UUIDField(
        "invite id",
        null=True,
        blank=True,
        help_text="The invite the object belongs to (itself, or its video's): one candidate's whole story.",
    )
    detail = models.JSONField(default=dict, blank=True, help_text="E.g. the tag before and after.")
    client_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = "audit event"
        verbose_name_plural = "audit log"
        # Read-only for everyone: only "view" exists.
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["object_id", "at"], name="audit_object_at"),
            models.Index(fields=["invite_ref", "at"], name="audit_invite_at"),
            models.Index(fields=["actor", "at"], name="audit_actor_at"),
            models.Index(fields=["action", "at"], name="audit_action_at"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.get_action_display()} {self.object_label}"
        )

    @property
    def summary(self) -> str:
        """The detail in words: "pending → advance", or "field: a → b; other: value"."""
        detail = self.detail if isinstance(self.detail, dict) else {}
        parts = []
        for key, value in detail.items():
            if key in ("from", "to"):
                continue
            if isinstance(value, dict) and {"from", "to"} <= value.keys():
                value = f"{value['from']} → {value['to']}"
            parts.append(f"{key.replace('_', ' ')}: {value}")
        if {"from", "to"} <= detail.keys():
            parts.insert(0, f"{detail['from']} → {detail['to']}")
        return "; ".join(parts)
