"""A full disk, for real: the media folder on a small tmpfs, filled until the
next file no longer fits, or fits only in part. A write cut short must never be
acknowledged, claimed or stored as the answer; everything received is kept for
the retry, which succeeds once there is room.

Mounting needs root (CI runs as root); elsewhere these tests are skipped with
the reason."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from invites.models import Invite, InviteStatus
from uploads.models import Chunk, Upload
from uploads.tests.test_finish import finish, send
from uploads.tests.test_tus import create, patch, upload_of
from videos import media
from videos.models import Video

pytestmark = pytest.mark.django_db

PAGE = 4096


class Disk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def free(self) -> int:
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize

    def fill(self, *, leave: int) -> None:
        """Take all but `leave` bytes (rounded down to a page: what tmpfs counts in)."""
        self.empty()
        with self.filler.open("wb") as f:
            f.write(b"\0" * max(self.free() - leave, 0))
        assert self.free() <= leave

    def empty(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture(params=["temp on another filesystem", "temp on the media filesystem"])
def disk(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> Iterator[Disk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(root)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"tmpfs can't be mounted here: {mounted.stderr.decode().strip()}")
    try:
        local = {"BACKEND": "aurio.storage.PrivateFileSystemStorage", "OPTIONS": {"location": root / "media"}}
        settings.STORAGES = {**settings.STORAGES, "default": local, "local": local}
        other_fs = request.param.startswith("temp on another")
        temp = tmp_path / "tmp" if other_fs else root / "media" / ".tmp"
        temp.mkdir(parents=True)
        settings.FILE_UPLOAD_TEMP_DIR = str(temp)
        yield Disk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def remuxed_size(content: bytes, tmp_path: Path) -> int:
    """The size of the original aurio will store (the remuxed recording)."""
    source, target = tmp_path / "in.webm", tmp_path / "out.webm"
    source.write_bytes(content)
    assert media.remux(source, target, media.sniff(content[:64]))
    return target.stat().st_size


def stored_files(folder: str) -> list[str]:
    with contextlib.suppress(FileNotFoundError):
        return [
            name
            for sub in default_storage.listdir(folder)[0]
            for name in default_storage.listdir(f"{folder}/{sub}")[1]
        ]
    return []


def test_finish_on_a_full_disk_is_503_and_keeps_everything_for_the_retry(
    client: Client, invite: Invite, recorder_webm: Path, disk: Disk, tmp_path: Path
) -> None:
    content = recorder_webm.read_bytes()
    url = send(client, invite, content)
    # Room for all of the original but its last partial page: a copy that
    # ignored short writes would store it cut and answer 201.
    size = remuxed_size(content, tmp_path)
    disk.fill(leave=size // PAGE * PAGE)

    response = finish(client, invite, url)

    assert response.status_code == 503, response.content
    assert "try again" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    invite.refresh_from_db()
    assert invite.status != InviteStatus.SUBMITTED
    assert not Video.objects.exists()
    assert stored_files("videos") == []
    assert Chunk.objects.filter(upload=upload_of(url)).count() == 3  # every part kept

    disk.empty()
    retry = finish(client, invite, url)
    assert retry.status_code == 201
    video = Video.objects.get()
    with default_storage.open(video.file.name, "rb") as stored:
        data = stored.read()
    assert len(data) == video.size == size
    assert hashlib.sha256(data).hexdigest() == video.sha256
    assert video.duration_seconds == pytest.approx(3.0, abs=0.1)


def test_a_checksummed_chunk_that_does_not_fit_is_never_acknowledged(
    client: Client, invite: Invite, disk: Disk
) -> None:
    data = os.urandom(400_000)
    part = 3 * 65536 + 60_000  # a copy in 64 KiB writes: the last one only half fits
    url = create(client, invite, len(data))["Location"]
    checksum = "sha256 " + base64.b64encode(hashlib.sha256(data[:part]).digest()).decode()
    disk.fill(leave=3 * 65536 + 8 * PAGE)

    response = patch(client, url, data[:part], 0, **{"Upload-Checksum": checksum})

    assert response.status_code == 503, response.content
    assert upload_of(url).offset == 0
    assert not Chunk.objects.exists()
    disk.empty()
    assert patch(client, url, data[:part], 0, **{"Upload-Checksum": checksum}).status_code == 204
    chunk = Chunk.objects.get()
    with default_storage.open(chunk.name, "rb") as stored:
        assert stored.read() == data[:part]


def test_a_multipart_upload_on_a_full_disk_is_503_and_leaves_the_invite_open(
    invite: Invite, recorder_webm: Path, disk: Disk
) -> None:
    content = recorder_webm.read_bytes()
    disk.fill(leave=PAGE)
    response = Client(raise_request_exception=False).post(
        reverse("api:upload_video", args=[invite.token]), {"file": ContentFile(content, name="answer.webm")}
    )
    assert response.status_code == 503, response.content
    invite.refresh_from_db()
    assert invite.status != InviteStatus.SUBMITTED
    assert not Video.objects.exists() and not Upload.objects.exists()
    disk.empty()
    response = Client().post(
        reverse("api:upload_video", args=[invite.token]), {"file": ContentFile(content, name="answer.webm")}
    )
    assert response.status_code == 201
