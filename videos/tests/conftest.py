from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from invites.models import Invite
from invites.services import invite_create
from uploads.accept import video_accept_upload
from videos.models import Video


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
