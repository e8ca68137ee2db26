from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from invites.models import Invite
from invites.services import invite_create, invite_revoke

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("revoke_invites", *args, stdout=out)
    return out.getvalue()


def test_named_invites_are_revoked(invite: Invite) -> None:
    other = invite_create(email="other@example.com")
    out = run(str(invite.pk))
    invite.refresh_from_db()
    other.refresh_from_db()
    assert invite.is_revoked
    assert not other.is_revoked
    assert f"{invite.pk} cand@example.com: revoked" in out
    assert "Revoked 1 invite(s)." in out


def test_email_revokes_every_invite_to_that_address(db: None) -> None:
    first = invite_create(email="ada@example.com")
    second = invite_create(email="ada@example.com")
    other = invite_create(email="bob@example.com")
    run("--email", " ADA@example.com ")
    assert set(Invite.objects.filter(revoked_at__isnull=False)) == {first, second}
    other.refresh_from_db()
    assert not other.is_revoked


def test_already_revoked_invite_keeps_its_date(invite: Invite) -> None:
    invite_revoke(invite=invite)
    revoked_at = invite.revoked_at
    out = run(str(invite.pk))
    invite.refresh_from_db()
    assert invite.revoked_at == revoked_at
    assert "already revoked" in out
    assert "Revoked 0 invite(s)." in out


def test_dry_run_revokes_nothing(invite: Invite) -> None:
    out = run(str(invite.pk), "--dry-run")
    invite.refresh_from_db()
    assert not invite.is_revoked
    assert "would revoke" in out


def test_unknown_id_is_refused_before_anything_is_revoked(invite: Invite) -> None:
    with pytest.raises(CommandError, match="No invite with id 'nope'; nothing was revoked."):
        run(str(invite.pk), "nope")
    invite.refresh_from_db()
    assert not invite.is_revoked


def test_unknown_email_is_refused(invite: Invite) -> None:
    with pytest.raises(CommandError, match="No invite was sent to 'who@example.com'"):
        run("--email", "who@example.com")


@pytest.mark.parametrize("args", [[], ["00000000-0000-0000-0000-000000000000", "--email", "a@example.com"]])
def test_ids_or_email_is_required(db: None, args: list[str]) -> None:
    with pytest.raises(CommandError, match="one of them"):
        run(*args)
