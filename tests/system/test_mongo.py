"""aurio on MongoDB through django-mongodb-backend.

No MongoDB server can be installed on our machines. The configuration tests
below run everywhere (they need no server); the flow test runs only when
AURIO_TEST_MONGO_URL names a server, and the whole suite runs against it with
`DATABASE_URL=$AURIO_TEST_MONGO_URL` (which `make test` does when it is set).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_SERVER = "mongodb://127.0.0.1:1/aurio?serverSelectionTimeoutMS=500"
MONGO_URL = os.environ.get("AURIO_TEST_MONGO_URL", "")


def run(code: str, database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="aurio.settings",
        DATABASE_URL=database_url,
        SECRET_KEY="mongo-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        AURIO_DATA_DIR=str(tmp_path),
    )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mongodb_url_selects_the_backend_and_object_id_contrib_apps(tmp_path: Path) -> None:
    result = run(
        """
        import django
        django.setup()
        from django.apps import apps
        from django.conf import settings
        print(settings.DATABASES["default"]["ENGINE"])
        print(apps.get_app_config("auth").default_auto_field)
        print(settings.MIGRATION_MODULES["auth"])
        from django.core.management import call_command
        call_command("check")
        """,
        NO_SERVER,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "django_mongodb_backend",
        "django_mongodb_backend.fields.ObjectIdAutoField",
        "aurio.mongo_migrations.auth",
    ]
    assert "System check identified no issues" in result.stdout


def test_aurio_models_have_no_integer_keys(tmp_path: Path) -> None:
    """What the backend refuses (mongodb.fields.auto.E001) must not exist in aurio's own models."""
    result = run(
        """
        import django
        django.setup()
        from django.apps import apps
        for label in ("aurio", "invites", "videos", "uploads"):
            for model in apps.get_app_config(label).get_models():
                print(label, model.__name__, type(model._meta.pk).__name__)
        """,
        NO_SERVER,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    kinds = {line.split()[-1] for line in result.stdout.splitlines()}
    assert kinds == {"UUIDField"}


@pytest.mark.skipif(
    not MONGO_URL, reason="AURIO_TEST_MONGO_URL is not set: no MongoDB server to test against"
)
def test_whole_flow_on_a_real_mongodb(tmp_path: Path) -> None:
    result = run(
        """
        import django
        django.setup()
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        from pathlib import Path
        from django.core.files.uploadedfile import SimpleUploadedFile
        from invites.services import invite_create
        from invites.repository import invite_for_token
        from aurio.errors import Refused
        from uploads.accept import video_accept_upload
        from videos.services import video_set_tag
        from tests.support.media import make_video
        invite = invite_create(email="mongo@example.com")
        assert invite_for_token(invite.token) == invite
        from django.conf import settings
        data = make_video(Path(settings.DATA_DIR) / "clip.webm", seconds=2, live=True).read_bytes()
        video = video_accept_upload(invite=invite, upload=SimpleUploadedFile("a.webm", data, "video/webm"))
        try:
            video_accept_upload(invite=invite, upload=SimpleUploadedFile("a.webm", data, "video/webm"))
            raise SystemExit("second upload was accepted")
        except Refused as exc:
            assert exc.status == 409, exc
        video_set_tag(video=video, tag="advance")
        video.refresh_from_db()
        print("ok", video.tag, round(video.duration_seconds))
        """,
        MONGO_URL,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok advance 2")
