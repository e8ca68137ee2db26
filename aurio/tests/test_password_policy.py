"""Staff passwords go through Django's four standard validators (at least 12
characters, not like the username or email, not a common password, not all
digits): in the admin's forms, `createsuperuser` and `ensure_recruiter`.

Tests elsewhere make users with `create_user(..., "pw")`, which bypasses the
validators on purpose; these tests go through the doors a person uses."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

STRONG = "correct-horse-battery-staple"


class Terminal(StringIO):
    """stdin of a person at a terminal (createsuperuser refuses a pipe)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the person types at each prompt, in order (input() and getpass() alike)."""
    answers: list[str] = []

    def answer(prompt: str = "") -> str:
        assert answers, f"nothing left to type at {prompt!r}"
        return answers.pop(0)

    monkeypatch.setattr("builtins.input", answer)
    monkeypatch.setattr(getpass, "getpass", answer)
    monkeypatch.setattr("sys.stdin", Terminal())
    yield answers
    assert answers == [], "prompts were left unanswered"


def test_the_admin_password_change_form_refuses_a_weak_password(
    staff_client: Client, recruiter: User
) -> None:
    response = staff_client.post(
        reverse("admin:password_change"),
        {"old_password": "pw", "new_password1": "1", "new_password2": "1"},
    )
    assert response.status_code == 200  # the form again, with its errors
    assert "This password is too short. It must contain at least 12 characters." in response.content.decode()
    recruiter.refresh_from_db()
    assert recruiter.check_password("pw")


def test_the_admin_password_change_form_accepts_a_strong_password(
    staff_client: Client, recruiter: User
) -> None:
    response = staff_client.post(
        reverse("admin:password_change"),
        {"old_password": "pw", "new_password1": STRONG, "new_password2": STRONG},
    )
    assert response.status_code == 302
    recruiter.refresh_from_db()
    assert recruiter.check_password(STRONG)


def test_the_admin_set_password_form_refuses_a_password_like_the_username(
    staff_client: Client, teammate: User
) -> None:
    response = staff_client.post(
        reverse("admin:auth_user_password_change", args=[teammate.pk]),
        {"password1": "mate@example.com", "password2": "mate@example.com", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert "The password is too similar to the email address." in response.content.decode()
    teammate.refresh_from_db()
    assert teammate.check_password("pw")


def test_createsuperuser_refuses_a_weak_password(db: None, typed: list[str]) -> None:
    # Username, email, "1" twice (refused; no, don't bypass), then a strong one twice.
    typed += ["boss", "boss@example.com", "1", "1", "n", STRONG, STRONG]
    errors = StringIO()
    call_command("createsuperuser", interactive=True, stdin=Terminal(), stdout=StringIO(), stderr=errors)
    assert "This password is too short" in errors.getvalue()
    assert "This password is entirely numeric." in errors.getvalue()
    assert User.objects.get(username="boss").check_password(STRONG)


def test_ensure_recruiter_refuses_a_weak_admin_password_from_the_environment(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AURIO_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("AURIO_ADMIN_PASSWORD", "1")
    with pytest.raises(CommandError) as refused:
        call_command("ensure_recruiter", stdout=StringIO())
    assert "AURIO_ADMIN_PASSWORD" in str(refused.value)
    assert "too short" in str(refused.value)
    assert not User.objects.filter(username="boss").exists()


def test_ensure_recruiter_makes_the_recruiter_with_a_strong_password(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AURIO_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("AURIO_ADMIN_PASSWORD", STRONG)
    call_command("ensure_recruiter", stdout=StringIO())
    boss = User.objects.get(username="boss")
    assert boss.is_superuser and boss.check_password(STRONG)


def test_ensure_recruiter_on_a_terminal_asks_again_for_a_weak_password(db: None, typed: list[str]) -> None:
    typed += ["boss", "boss@example.com", "1", "1", STRONG, STRONG]
    errors = StringIO()
    call_command("ensure_recruiter", stdout=StringIO(), stderr=errors)
    assert "too short" in errors.getvalue()
    assert "entirely numeric" in errors.getvalue()
    boss = User.objects.get(username="boss")
    assert boss.is_superuser and boss.check_password(STRONG)


def test_ensure_recruiter_on_a_terminal_gives_up_after_three_weak_passwords(
    db: None, typed: list[str]
) -> None:
    typed += ["boss", "", "1", "1", "12345678", "12345678", "boss", "boss"]
    with pytest.raises(CommandError, match="No recruiter was made"):
        call_command("ensure_recruiter", stdout=StringIO(), stderr=StringIO())
    assert not User.objects.exists()
