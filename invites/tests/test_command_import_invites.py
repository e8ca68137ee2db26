from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from invites.models import Invite

pytestmark = pytest.mark.django_db


def run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_invites", str(path), *args, stdout=out)
    return out.getvalue()


def csv_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "invites.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_rows_are_created_with_name_and_deadline(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "email,name,expires_at\nAda@Example.com,Ada,2099-01-02T10:00:00+00:00\nbob@example.com,,\n",
    )
    out = run(path)
    ada = Invite.objects.get(email="ada@example.com")
    assert ada.name == "Ada"
    assert ada.expires_at.isoformat() == "2099-01-02T10:00:00+00:00"
    bob = Invite.objects.get(email="bob@example.com")
    assert bob.expires_at > timezone.now() + timedelta(days=13)
    assert "line 2: ada@example.com: created" in out
    assert "line 3: bob@example.com: created" in out
    assert "Created 2 invite(s); 0 row(s) failed." in out


def test_days_sets_the_deadline_of_rows_without_one(tmp_path: Path) -> None:
    run(csv_file(tmp_path, "email\nada@example.com\n"), "--days", "3")
    expires_at = Invite.objects.get().expires_at
    assert timezone.now() + timedelta(days=2) < expires_at < timezone.now() + timedelta(days=3, minutes=1)


def test_dry_run_creates_nothing(tmp_path: Path) -> None:
    out = run(csv_file(tmp_path, "email\nada@example.com\n"), "--dry-run")
    assert not Invite.objects.exists()
    assert "line 2: ada@example.com: would create" in out
    assert "Would create 1 invite(s)" in out


def test_bad_rows_are_reported_the_good_ones_created_and_the_exit_status_is_1(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "email,name,expires_at\n"
        "ada@example.com,Ada,\n"
        "not-an-email,X,\n"
        ",Nobody,\n"
        "ADA@example.com,Ada again,\n"
        "cy@example.com,Cy,tomorrow\n"
        "di@example.com,Di,2099-01-02T10:00:00\n"
        "ed@example.com,Ed,2000-01-02T10:00:00+00:00\n",
    )
    out = StringIO()
    with pytest.raises(CommandError, match="6 row\\(s\\) failed") as raised:
        call_command("import_invites", str(path), stdout=out)
    assert raised.value.returncode == 1
    assert list(Invite.objects.values_list("email", flat=True)) == ["ada@example.com"]
    report = out.getvalue()
    assert "line 3: not-an-email: error: not a valid email address" in report
    assert "line 4: -: error: email is empty" in report
    assert "line 5: ada@example.com: error: duplicate of line 2" in report
    assert "line 6: cy@example.com: error: expires_at 'tomorrow' is not an ISO date and time" in report
    assert "line 7: di@example.com: error: expires_at '2099-01-02T10:00:00' has no time zone" in report
    assert "line 8: ed@example.com: error: expires_at '2000-01-02T10:00:00+00:00' is in the past" in report


def test_dry_run_reports_bad_rows_too(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        run(csv_file(tmp_path, "email\nnope\n"), "--dry-run")
    assert not Invite.objects.exists()


def test_a_row_with_extra_fields_is_an_error(tmp_path: Path) -> None:
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("import_invites", str(csv_file(tmp_path, "email\na@example.com,x\n")), stdout=out)
    assert "more fields than the header has" in out.getvalue()


def test_missing_email_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no 'email' column \\(found: mail, name\\)"):
        run(csv_file(tmp_path, "mail,name\nada@example.com,Ada\n"))
    assert not Invite.objects.exists()


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no 'email' column \\(found: nothing\\)"):
        run(csv_file(tmp_path, ""))


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "nope.csv")


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "invites.csv"
    path.write_bytes(b"\xff\xfe\x00email")
    with pytest.raises(CommandError, match="not UTF-8"):
        run(path)


def test_header_is_case_insensitive_and_a_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "invites.csv"
    path.write_text(" Email ,Name\nada@example.com,Ada\n", encoding="utf-8-sig")
    run(path)
    assert Invite.objects.get().name == "Ada"


def test_days_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--days"):
        run(csv_file(tmp_path, "email\nada@example.com\n"), "--days", "0")


def test_a_row_with_a_nul_byte_is_refused_and_the_others_created(tmp_path: Path) -> None:
    path = tmp_path / "invites.csv"
    path.write_text("email,name\na@example.com,Ann\x00Lee\nb@example.com,Bob\n")
    out = StringIO()
    with pytest.raises(CommandError, match="1 row\\(s\\) failed"):
        call_command("import_invites", str(path), stdout=out)
    assert "line 2: a@example.com: error: control characters" in out.getvalue()
    assert list(Invite.objects.values_list("email", flat=True)) == ["b@example.com"]
