"""import_invites --interview, and the candidate lists it shares with the admin."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from interviews.models import Interview
from invites.candidate_lists import read_pasted
from invites.models import Invite
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db


def test_invites_go_to_the_named_interview(tmp_path: Path) -> None:
    interview = make_interview(title="Designer")
    path = tmp_path / "c.csv"
    path.write_text("email\nada@example.com\n")
    call_command("import_invites", str(path), "--interview", str(interview.pk), stdout=StringIO())
    assert Invite.objects.get().interview == interview


def test_without_interview_they_go_to_the_default(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("email\nada@example.com\n")
    call_command("import_invites", str(path), stdout=StringIO())
    assert Invite.objects.get().interview == Interview.objects.default()


@pytest.mark.parametrize("raw", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_interview_creates_nothing(tmp_path: Path, raw: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text("email\nada@example.com\n")
    with pytest.raises(CommandError, match="No interview with id"):
        call_command("import_invites", str(path), "--interview", raw, stdout=StringIO())
    assert not Invite.objects.exists()


def test_pasted_lines_in_each_format() -> None:
    pasted = 'ada@example.com\n"Lovelace, Ada" <ADA2@example.com>\nBob Byte <bob@example.com>\n'
    listed = read_pasted(pasted + "cy@example.com, Cy\n")
    assert [(c.line, c.email, c.name) for c in listed.good] == [
        (1, "ada@example.com", ""),
        (2, "ada2@example.com", "Lovelace, Ada"),
        (3, "bob@example.com", "Bob Byte"),
        (4, "cy@example.com", "Cy"),
    ]
    assert listed.bad == []


def test_pasted_lines_that_are_refused() -> None:
    listed = read_pasted(f"Ada <>\nada@example.com, {'x' * 201}\nbo\x00b@example.com\nAda <ada@example.com\n")
    assert [(b.line, b.reason) for b in listed.bad] == [
        (1, "email is empty"),
        (2, "name is longer than 200 characters"),
        (3, "not a valid email address: 'bo\\x00b@example.com'"),
        (4, "not a valid email address: 'ada <ada@example.com'"),
    ]
    assert listed.good == []
