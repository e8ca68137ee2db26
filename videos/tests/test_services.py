from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from invites.models import Invite
from uploads.accept import video_accept_upload
from uploads.tests.test_accept import as_upload
from videos import services
from videos.models import Video

pytestmark = pytest.mark.django_db


def test_set_tag_refuses_unknown_values(invite: Invite, recorder_webm: Path) -> None:
    video = video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    services.video_set_tag(video=video, tag="advance")
    video.refresh_from_db()
    assert video.tag == "advance"
    with pytest.raises(ValueError):
        services.video_set_tag(video=video, tag="hire")


def test_delete_removes_row_and_file(invite: Invite, recorder_webm: Path) -> None:
    video = video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    name = video.file.name
    services.video_delete(video=video)
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not default_storage.exists(name)
