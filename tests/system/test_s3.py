"""aurio on S3: the same upload, playback, resumable and copy paths, against an
S3-compatible server (moto's standalone server) over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage, storages
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse

from invites.models import Invite
from tests.support import s3
from uploads.tests.test_tus import TUS, create, patch
from videos import processing
from videos.models import Status, Video

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    with s3.s3_server() as url:
        yield url


@pytest.fixture
def bucket(endpoint: str) -> str:
    return s3.new_bucket(endpoint)


@pytest.fixture(autouse=True)
def _own_media(media_root: Path) -> None:
    """A fresh local media folder per test, so copies count only this test's files."""


@pytest.fixture
def on_s3(endpoint: str, bucket: str, settings: Any) -> Iterator[str]:
    """Make the bucket aurio's default storage, as AURIO_STORAGE=s3 does."""
    with override_settings(
        STORAGES={
            **settings.STORAGES,
            "default": s3.s3_storage_settings(endpoint, bucket),
            "s3": s3.s3_storage_settings(endpoint, bucket),
        }
    ):
        yield bucket


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = s3.client(endpoint)
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listing}


def fetch(url: str, **headers: str) -> tuple[int, Message, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
        return response.status, response.headers, response.read()


def upload(client: Client, invite: Invite, path: Path) -> Video:
    with path.open("rb") as f:
        response = client.post(reverse("api:upload_video", args=[invite.token]), {"file": f})
    assert response.status_code == 201, response.content
    return Video.objects.get(pk=response.json()["videoId"])


def test_upload_lands_in_the_bucket(
    client: Client, invite: Invite, recorder_webm: Path, on_s3: str, endpoint: str
) -> None:
    video = upload(client, invite, recorder_webm)
    stored = objects(endpoint, on_s3)
    assert list(stored) == [video.file.name]
    assert hashlib.sha256(stored[video.file.name]).hexdigest() == video.sha256


def test_bucket_objects_are_not_public(
    client: Client, invite: Invite, recorder_webm: Path, on_s3: str, endpoint: str
) -> None:
    video = upload(client, invite, recorder_webm)
    with pytest.raises(urllib.error.HTTPError) as refused:
        fetch(f"{endpoint}/{on_s3}/{video.file.name}")
    assert refused.value.code == 403


def test_playback_redirects_to_a_presigned_url_that_serves_ranges(
    client: Client, api: Client, invite: Invite, recorder_webm: Path, on_s3: str
) -> None:
    video = upload(client, invite, recorder_webm)
    response = api.get(reverse("api:stream_video", args=[video.id]))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    signed = response["Location"]
    assert "X-Amz-Signature=" in signed and "X-Amz-Expires=300" in signed
    status, headers, body = fetch(signed, Range="bytes=100-199")
    assert status == 206
    assert headers["Content-Range"] == f"bytes 100-199/{video.size}"
    assert body == default_storage.open(video.file.name).read()[100:200]


def test_no_redirect_without_authorisation(
    client: Client, invite: Invite, recorder_webm: Path, on_s3: str, outsider: User, token_for: Any
) -> None:
    video = upload(client, invite, recorder_webm)
    url = reverse("api:stream_video", args=[video.id])
    assert Client().get(url).status_code == 401
    assert Client(headers={"Authorization": f"Bearer {token_for(outsider)}"}).get(url).status_code == 403


def test_resumable_upload_keeps_its_parts_in_the_bucket(
    client: Client, invite: Invite, recorder_webm: Path, on_s3: str, endpoint: str
) -> None:
    content = recorder_webm.read_bytes()
    url = create(client, invite, len(content))["Location"]
    half = len(content) // 2
    assert patch(client, url, content[:half], 0).status_code == 204
    # Any web process can carry on: the state is in the database and the bucket.
    assert client.head(url, headers=TUS)["Upload-Offset"] == str(half)
    parts = [key for key in objects(endpoint, on_s3) if key.startswith("uploads/")]
    assert len(parts) == 1
    assert patch(client, url, content[half:], half).status_code == 204
    finished = client.post(reverse("api:finish_upload", args=[invite.token, url.rsplit("/", 1)[1]]))
    assert finished.status_code == 201
    keys = list(objects(endpoint, on_s3))
    assert not [key for key in keys if key.startswith("uploads/")]
    assert Video.objects.get(pk=finished.json()["videoId"]).file.name in keys


def test_processing_writes_poster_and_rendition_to_the_bucket(
    client: Client, invite: Invite, recorder_webm: Path, on_s3: str, endpoint: str
) -> None:
    video = upload(client, invite, recorder_webm)
    processing.process(str(video.id))
    video.refresh_from_db()
    assert video.status == Status.READY
    keys = objects(endpoint, on_s3)
    assert video.poster.name in keys and video.playback.name in keys
    assert keys[video.poster.name][:2] == b"\xff\xd8"  # JPEG


def test_copy_media_moves_local_files_to_the_bucket_and_verifies_them(
    client: Client, invite: Invite, recorder_webm: Path, endpoint: str, bucket: str, settings: Any
) -> None:
    video = upload(client, invite, recorder_webm)  # on local storage
    local = storages["local"]
    with override_settings(STORAGES={**settings.STORAGES, "s3": s3.s3_storage_settings(endpoint, bucket)}):
        out = StringIO()
        call_command("copy_media", "--from", "local", "--to", "s3", stdout=out)
        assert "Copied 1 file(s)" in out.getvalue()
        stored = objects(endpoint, bucket)
        assert hashlib.sha256(stored[video.file.name]).hexdigest() == video.sha256
        assert local.exists(video.file.name)  # copying never deletes the source

        again = StringIO()
        call_command("copy_media", "--from", "local", "--to", "s3", stdout=again)
        assert "Copied 0 file(s); 1 already there and identical" in again.getvalue()


def test_copy_media_dry_run_writes_nothing(
    client: Client, invite: Invite, recorder_webm: Path, endpoint: str, bucket: str, settings: Any
) -> None:
    upload(client, invite, recorder_webm)
    with override_settings(STORAGES={**settings.STORAGES, "s3": s3.s3_storage_settings(endpoint, bucket)}):
        out = StringIO()
        call_command("copy_media", "--from", "local", "--to", "s3", "--dry-run", stdout=out)
    assert "Would copy 1 file(s)" in out.getvalue()
    assert objects(endpoint, bucket) == {}


def test_copy_media_refuses_unknown_or_identical_storages(db: None) -> None:
    with pytest.raises(CommandError, match="Unknown or unusable storage"):
        call_command("copy_media", "--from", "local", "--to", "nowhere")
    with pytest.raises(CommandError, match="same storage"):
        call_command("copy_media", "--from", "local", "--to", "local")


def test_server_side_encryption_is_requested_when_configured(
    client: Client, invite: Invite, recorder_webm: Path, endpoint: str, bucket: str, settings: Any
) -> None:
    encrypted = s3.s3_storage_settings(endpoint, bucket, object_parameters={"ServerSideEncryption": "AES256"})
    with override_settings(STORAGES={**settings.STORAGES, "default": encrypted}):
        video = upload(client, invite, recorder_webm)
    head = s3.client(endpoint).head_object(Bucket=bucket, Key=video.file.name)
    assert head["ServerSideEncryption"] == "AES256"


def test_boto3_is_imported_only_by_processes_that_use_the_bucket(tmp_path: Path) -> None:
    """STORAGES names aurio.s3 by a dotted path, and Django imports a backend when
    its storage is first used: on local storage boto3 (36 MB) is never loaded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AURIO_", "AWS_"))}
    env.update(
        SECRET_KEY="x",
        AURIO_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="aurio.settings",
        AWS_STORAGE_BUCKET_NAME="aurio-media",
    )
    code = (
        "import sys, django; django.setup(); import aurio.urls; "
        "from django.core.files.storage import storages; "
        "print(type(storages['default']).__module__, 'boto3' in sys.modules)"
    )
    for storage, expected in (("local", ["aurio.storage", "False"]), ("s3", ["aurio.s3", "True"])):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "AURIO_STORAGE": storage},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.split() == expected, result.stderr
