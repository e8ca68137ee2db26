"""The staff login refuses a username from an address after too many failures."""

from __future__ import annotations

import random
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

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
    settings.AURIO_LOGIN_LOCKOUT_SECONDS = 1
    fail(visitor, "rec", 5)
    assert "Too many failed attempts" in log_in(visitor, "rec", "pw").content.decode()
    time.sleep(2.1)  # the database cache keeps expiry times to the second
    assert log_in(visitor, "rec", "pw").status_code == 302
