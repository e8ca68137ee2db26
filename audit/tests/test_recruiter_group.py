"""`manage.py ensure_recruiter` gives the Recruiters group what recruiters need, the audit log included."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from invites.models import Invite

pytestmark = pytest.mark.django_db


def ensure() -> None:
    call_command("ensure_recruiter", stdout=StringIO())


def test_the_group_is_made_with_its_permissions_and_running_twice_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AURIO_ADMIN_USERNAME", raising=False)
    ensure()
    ensure()
    group = Group.objects.get(name="Recruiters")
    names = {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }
    assert {"audit.view_auditevent", "invites.add_invite", "videos.change_video"} <= names
    assert not any(name.startswith("audit.") and name != "audit.view_auditevent" for name in names)


def group_member(monkeypatch: pytest.MonkeyPatch) -> tuple[Client, User]:
    """A staff member of the Recruiters group (as ensure_recruiter makes it), logged in."""
    monkeypatch.delenv("AURIO_ADMIN_USERNAME", raising=False)
    ensure()
    member = User.objects.create_user("member", is_staff=True)
    member.groups.add(Group.objects.get(name="Recruiters"))
    client = Client()
    client.force_login(member)
    return client, member


def test_a_staff_member_in_the_group_reads_the_audit_log_and_histories(
    monkeypatch: pytest.MonkeyPatch, invite: Invite
) -> None:
    client, member = group_member(monkeypatch)
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    page = client.get(reverse("admin:invites_invite_change", args=[invite.pk])).content.decode()
    assert "Full history in the audit log" in page
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403


def test_a_staff_member_in_the_group_builds_interviews(monkeypatch: pytest.MonkeyPatch) -> None:
    client, member = group_member(monkeypatch)
    assert client.get(reverse("admin:interviews_interview_changelist")).status_code == 200
    assert client.get(reverse("admin:interviews_interview_add")).status_code == 200
    assert member.has_perms(["interviews.add_question", "invites.change_answer"])
