"""One file can't take the worker (or the web) down (issue 10, item 7).

(a) Budgets at upload: pictures above AURIO_MAX_VIDEO_PIXELS and frame rates
above AURIO_MAX_FRAME_RATE are refused with a message a person understands,
before anything decodes them. A 750 KB H.264 file of 16000×16000 pixels (384 MB
a frame once decoded) took a worker to 2.5 GB.

(b) Processing runs in a child process held to AURIO_PROCESSING_MEMORY_MB of
address space and AURIO_PROCESSING_TIMEOUT_SECONDS: a file that needs more
fails alone, with a reason, and the worker goes on to the next video.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django import Settings

from invites.models import Invite, InviteStatus
from invites.services import invite_create
from tests.support.factories import store_video, stored_names
from tests.support.media import make_video
from videos import media, processing, tasks, transcode
from videos.models import Status, Video
from videos.tests.test_tasks import run_worker

ROOT = Path(__file__).resolve().parents[2]
BOMB = "The video is 16000×16000 pixels; the largest we accept is 4K (3840×2160)."


def in_a_child(code: str) -> str:
    """Run `code` in a fresh Python (its peak memory is its own); its output."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "aurio.settings_test"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def bomb(media_dir: Path) -> Path:
    """16000×16000, two black frames: 750 KB. Encoding it takes x264 2.6 GB, in a child."""
    path = media_dir / "bomb.mp4"
    make = "from pathlib import Path\nfrom tests.support.media import make_huge\nmake_huge(Path({path!r}))"
    in_a_child(make.format(path=str(path)))
    return path


def upload(client: Client, invite: Invite, path: Path) -> tuple[int, dict[str, str]]:
    file = SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/mp4")
    response = client.post(f"/api/v1/upload/{invite.token}", {"file": file})
    return response.status_code, response.json()


# --- (a) budgets at upload ----------------------------------------------------------


def test_probe_refuses_a_decompression_bomb(bomb: Path) -> None:
    with pytest.raises(media.OverBudget) as refused:
        media.probe(bomb)
    assert str(refused.value) == BOMB
    assert isinstance(refused.value, media.UnreadableVideo)  # so the upload's 422 mapping catches it


PROBE_IN_A_CHILD = """
import django, json
django.setup()
from pathlib import Path
from videos import media
refused = None
try:
    media.probe(Path({path!r}))
except media.UnreadableVideo as exc:
    refused = str(exc)
# VmHWM: this process's own peak resident memory (ru_maxrss would carry its parent's over exec).
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps([refused, peak // 1024]))
"""


def test_probing_a_decompression_bomb_stays_small(bomb: Path) -> None:
    refused, peak_mb = json.loads(in_a_child(PROBE_IN_A_CHILD.format(path=str(bomb))))
    assert peak_mb < 300  # opening it decoded frames of 384 MB before
    assert refused == BOMB


@pytest.mark.django_db
def test_a_decompression_bomb_is_refused_at_upload(
    client: Client, invite: Invite, bomb: Path, media_root: Path
) -> None:
    assert upload(client, invite, bomb) == (422, {"detail": BOMB})
    assert not Video.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]
    invite.refresh_from_db()
    assert invite.status != InviteStatus.SUBMITTED


@pytest.mark.django_db
def test_the_pixel_budget_holds_either_way_up(
    client: Client, invite: Invite, tmp_path: Path, settings: Settings, media_root: Path
) -> None:
    settings.AURIO_MAX_VIDEO_PIXELS = 320 * 240
    portrait = make_video(tmp_path / "portrait.mp4", seconds=1, size=(240, 320), fmt="mp4")
    larger = make_video(tmp_path / "larger.mp4", seconds=1, size=(322, 240), fmt="mp4")
    assert upload(client, invite, larger) == (
        422,
        {"detail": "The video is 322×240 pixels; the largest we accept is 0.1 megapixels a frame."},
    )
    assert upload(client, invite, portrait)[0] == 201


@pytest.mark.django_db
def test_a_frame_rate_above_the_budget_is_refused_at_upload(
    client: Client, invite: Invite, tmp_path: Path, media_root: Path
) -> None:
    fast = make_video(tmp_path / "fast.webm", seconds=1, size=(64, 48), rate=240, audio=False)
    assert upload(client, invite, fast) == (
        422,
        {"detail": "The video has 240 frames a second; the most we accept is 120."},
    )
    assert not Video.objects.exists()


# --- (b) processing held to memory and time ------------------------------------------


@pytest.fixture
def bombs_allowed(settings: Settings) -> None:
    """Let the bomb past the upload's budget, as one stored before the budget was."""
    settings.AURIO_MAX_VIDEO_PIXELS = 16000 * 16000


@pytest.mark.django_db
def test_a_stored_bomb_fails_on_the_budget_without_being_decoded(invite: Invite, bomb: Path) -> None:
    video = store_video(invite, bomb.read_bytes(), extension="mp4")  # stored before the budget was
    assert processing.process(str(video.pk)) == "failed"
    video.refresh_from_db()
    assert video.failure_reason == BOMB
    assert video.processing_tries == 1
    assert stored_names(video) == ["original.mp4"]


@pytest.mark.django_db(transaction=True)
def test_a_file_that_needs_more_memory_than_allowed_fails_alone(
    invite: Invite, bomb: Path, recorder_webm: Path, settings: Settings, bombs_allowed: None
) -> None:
    settings.AURIO_PROCESSING_MEMORY_MB = 1280  # a small take needs about 600 MB of address space
    heavy = store_video(invite, bomb.read_bytes(), extension="mp4")
    light = store_video(invite_create(email="next@example.com"), recorder_webm.read_bytes())
    assert tasks.enqueue_processing(heavy) and tasks.enqueue_processing(light)

    run_worker()  # one worker, this process: both tasks, one after the other

    heavy.refresh_from_db()
    assert heavy.status == Status.FAILED
    assert heavy.failure_reason.startswith("Processing needed more memory than allowed (1280 MB).")
    assert heavy.processing_tries == 1  # not retried: it would only fail again
    assert stored_names(heavy) == ["original.mp4"]
    light.refresh_from_db()
    assert light.status == Status.READY, light.failure_reason
    assert stored_names(light) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]


@pytest.fixture(scope="session")
def full_hd(media_dir: Path) -> Path:
    return make_video(media_dir / "full-hd.mp4", seconds=3, size=(1920, 1080), rate=30, fmt="mp4")


@pytest.mark.django_db
def test_processing_that_takes_longer_than_allowed_fails_alone(
    invite: Invite, full_hd: Path, recorder_webm: Path, settings: Settings
) -> None:
    settings.AURIO_PROCESSING_TIMEOUT_SECONDS = 0.5  # the take needs a few seconds
    slow = store_video(invite, full_hd.read_bytes(), extension="mp4")
    assert processing.process(str(slow.pk)) == "failed"
    slow.refresh_from_db()
    assert slow.failure_reason.startswith("Processing took longer than allowed (0.5 seconds).")
    assert stored_names(slow) == ["original.mp4"]

    settings.AURIO_PROCESSING_TIMEOUT_SECONDS = 60
    quick = store_video(invite_create(email="next@example.com"), recorder_webm.read_bytes())
    assert processing.process(str(quick.pk)) == "ready"


def children() -> list[int]:
    """This process's children, whichever of its threads started them."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            found += [int(pid) for pid in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended between the listing and the read
    return found


@pytest.mark.django_db
def test_heartbeats_go_on_while_the_child_works(
    invite: Invite, full_hd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcode, "HEARTBEAT_SECONDS", 0.2, raising=False)
    video = store_video(invite, full_hd.read_bytes(), extension="mp4")
    real_heartbeat = processing.heartbeat
    beats = []
    before = set(children())  # long-lived helpers of other tests (servers) are not ours

    def heartbeat(claim: processing.Claim) -> None:
        real_heartbeat(claim)
        row = Video.objects.get(pk=video.pk)
        beats.append((row.heartbeat_at, bool(set(children()) - before)))

    monkeypatch.setattr(processing, "heartbeat", heartbeat)
    assert processing.process(str(video.pk)) == "ready"
    while_child_worked = [at for at, child in beats if child]
    assert len(set(while_child_worked)) >= 3  # the row's heartbeat moved on, again and again


@pytest.mark.django_db
def test_a_run_taken_over_while_its_child_works_stops_the_child(
    invite: Invite, full_hd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcode, "HEARTBEAT_SECONDS", 0.2, raising=False)
    video = store_video(invite, full_hd.read_bytes(), extension="mp4")
    real_heartbeat = processing.heartbeat
    seen_children: list[int] = []
    before = set(children())  # long-lived helpers of other tests (servers) are not ours

    def heartbeat(claim: processing.Claim) -> None:
        if ours := set(children()) - before:  # mid-transcode: "Reprocess" is pressed
            seen_children.extend(ours)
            processing.mark_waiting(video, reset_tries=True)
        real_heartbeat(claim)

    monkeypatch.setattr(processing, "heartbeat", heartbeat)
    assert processing.process(str(video.pk)) == "taken over"
    assert seen_children and not set(children()) & set(seen_children)  # the child was there, and is gone
    video.refresh_from_db()
    assert video.status == Status.UPLOADED
    assert stored_names(video) == ["original.mp4"]
