"""The staff login refuses a username from an address after too many failures."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

LOGIN = reverse("admin:login")


@pytest.fixture(autouse=True)
def defaults(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AURIO_LOGIN_FAILURES = 5


def new_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
def visitor() -> Client:
    return Client(REMOTE_ADDR=new_address())


def log_in(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, username: str, times: int) -> None:
    for _ in range(times):
        response = log_in(client, username, "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()


def test_after_five_failures_even_the_right_password_is_refused(recruiter: User, visitor: Client) -> None:
    fail(visitor, "rec", 5)
    response = log_in(visitor, "rec", "pw")
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    assert "15 minutes" in response.content.decode()
    assert not logged_in(visitor)


def test_four_failures_still_let_the_right_password_in(recruiter: User, visitor: Client) -> None:
    fail(visitor, "rec", 4)
    assert log_in(visitor, "rec", "pw").status_code == 302
    assert logged_in(visitor)


def test_a_successful_login_forgets_earlier_failures(recruiter: User, visitor: Client) -> None:
    fail(visitor, "rec", 4)
    assert log_in(visitor, "rec", "pw").status_code == 302
    visitor.logout()
    fail(visitor, "rec", 4)
    assert log_in(visitor, "rec", "pw").status_code == 302


def test_the_lock_is_per_username_and_address(recruiter: User, teammate: User, visitor: Client) -> None:
    fail(visitor, "rec", 5)
    assert "Too many failed attempts" in log_in(visitor, "rec", "pw").content.decode()
    elsewhere = Client(REMOTE_ADDR=new_address())
    assert log_in(elsewhere, "rec", "pw").status_code == 302
    assert log_in(visitor, "mate", "pw").status_code == 302


def test_unknown_usernames_are_locked_too(visitor: Client, db: None) -> None:
    fail(visitor, "nobody", 5)
    assert "Too many failed attempts" in log_in(visitor, "nobody", "x").content.decode()


def test_the_lock_ends_after_its_time(settings, recruiter: User, visitor: Client) -> None:  # type: ignore[no-untyped-def]
    # Long enough that a loaded machine still checks within it (the database
    # cache keeps expiry times to the second: a 1 s lock could end at once).
    settings.AURIO_LOGIN_LOCKOUT_SECONDS = 5
    fail(visitor, "rec", 5)
    assert "Too many failed attempts" in log_in(visitor, "rec", "pw").content.decode()
    time.sleep(6.1)
    assert log_in(visitor, "rec", "pw").status_code == 302


def test_failures_are_counted_from_startup_not_from_the_admins_first_page(tmp_path: Path) -> None:
    """aurio's AppConfig connects the counting: a failed login counts even in a
    process that has not loaded the URLs (and so the admin's login form) yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(SECRET_KEY="x", AURIO_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="aurio.settings")
    code = (
        "import sys, django; django.setup(); "
        "from django.contrib.auth.signals import user_logged_in, user_login_failed; "
        "print('aurio.urls' in sys.modules, user_login_failed.has_listeners(), "
        "'aurio.lockout.forget_login_failures' in repr(user_logged_in.receivers))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True", "True"], result.stderr
