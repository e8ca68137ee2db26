"""Shared fixtures: a small cast (recruiter, teammate without permissions,
outsider who is not staff, API token) and real media files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from aurio.models import ApiToken
from invites.models import Invite
from invites.services import invite_create
from tests.support.media import make_video
from uploads.accept import video_accept_upload
from videos.models import Video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def recorder_webm(media_dir: Path) -> Path:
    """A WebM as a browser's MediaRecorder writes it: no duration, no cues."""
    return make_video(media_dir / "recorder.webm", seconds=3, live=True)


@pytest.fixture(scope="session")
def plain_mp4(media_dir: Path) -> Path:
    return make_video(media_dir / "plain.mp4", seconds=2, fmt="mp4")


@pytest.fixture
def recruiter(db: None) -> User:
    return User.objects.create_superuser("rec", "rec@example.com", "pw")


@pytest.fixture
def teammate(db: None) -> User:
    """Staff, but with no permissions on invites or videos."""
    return User.objects.create_user("mate", "mate@example.com", "pw", is_staff=True)


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user("out", "out@example.com", "pw")


@pytest.fixture
def invite(db: None, recruiter: User) -> Invite:
    return invite_create(email="Cand@Example.com", name="Cand", created_by=recruiter)


@pytest.fixture
def video(invite: Invite, recorder_webm: Path) -> Video:
    upload = SimpleUploadedFile("answer.webm", recorder_webm.read_bytes(), "video/webm")
    return video_accept_upload(invite=invite, upload=upload)


@pytest.fixture
def make_videos(recorder_webm: Path):  # type: ignore[no-untyped-def]
    def make(count: int) -> list[Video]:
        data = recorder_webm.read_bytes()
        return [
            video_accept_upload(
                invite=invite_create(email=f"c{i}@example.com"),
                upload=SimpleUploadedFile("a.webm", data, "video/webm"),
            )
            for i in range(count)
        ]

    return make


@pytest.fixture
def token_for() -> Callable[[User], str]:
    def issue(user: User) -> str:
        return ApiToken.issue(user)[1]

    return issue


@pytest.fixture
def api(recruiter: User, token_for: Callable[[User], str]) -> Client:
    """A client that speaks to the API with the recruiter's bearer token."""
    return Client(headers={"Authorization": f"Bearer {token_for(recruiter)}"})


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """An empty private storage location for this test, so "no file was written" can be checked."""
    root = tmp_path / "media"
    local = {"BACKEND": "aurio.storage.PrivateFileSystemStorage", "OPTIONS": {"location": root}}
    settings.STORAGES = {**settings.STORAGES, "default": local, "local": local}
    return root


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """For tests that call the WSGI application directly: as Django's test
    client does, a request (and its close()) must not close the test's
    database connection mid-transaction (PostgreSQL would then refuse it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_client(client: Client, recruiter: User) -> Client:
    client.force_login(recruiter)
    return client


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the throwaway data folder that aurio.settings_test made."""
    import shutil
    import tempfile

    from django.conf import settings

    data_dir = Path(settings.DATA_DIR)
    if data_dir.name.startswith("aurio-test-") and data_dir.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(data_dir, ignore_errors=True)
