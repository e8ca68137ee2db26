"""Issue 10, "every take whole": the ways an upload could still be cut, lost or
pile up, each tried the way it happened (racing requests, a request that died
half-way, a link used as free storage) against the real services and storage."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aurio.errors import Refused
from invites.models import Answer, Invite
from invites.services import answer_claim, invite_create
from tests.support.factories import first_answer
from uploads import services
from uploads.models import Chunk, Upload
from uploads.tests.test_finish import finish, send
from uploads.tests.test_tus import TUS, chunk_files, create, patch, upload_of
from videos.models import Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(recorder_webm: Path) -> bytes:
    return recorder_webm.read_bytes()


class Interleaved(io.RawIOBase):
    """A request body that runs `during` once half of it has been read: another
    request's work, done while this one is still arriving."""

    def __init__(self, data: bytes, during: Callable[[], object]) -> None:
        self.body = io.BytesIO(data)
        self.half = len(data) // 2
        self.during: Callable[[], object] | None = during

    def read(self, size: int = -1, /) -> bytes:
        if self.during is not None and self.body.tell() >= self.half:
            during, self.during = self.during, None
            during()
        return self.body.read(min(size, max(self.half - self.body.tell(), 1)) if size > 0 else size)


# --- item 3: two PATCHes at the same offset -------------------------------------------------------


def test_a_patch_that_loses_the_race_keeps_the_winners_acknowledged_chunk(
    client: Client, invite: Invite, content: bytes
) -> None:
    url = create(client, invite, len(content))["Location"]
    upload = upload_of(url)
    first = content[:1000]
    winner: list[int] = []

    def the_other_request() -> None:
        winner.append(patch(client, url, first, 0).status_code)

    with pytest.raises(Refused) as refused:
        services.upload_append(upload=upload, offset=0, stream=Interleaved(content[:1500], the_other_request))
    assert winner == [204]
    assert refused.value.status == 409
    # The acknowledged chunk is whole and alone; the loser left no file behind.
    assert [(c.offset, c.size) for c in Chunk.objects.filter(upload=upload)] == [(0, 1000)]
    assert len(chunk_files(upload)) == 1
    assert patch(client, url, content[1000:], 1000).status_code == 204
    response = finish(client, invite, url)
    assert response.status_code == 201
    video = Video.objects.get(pk=response.json()["videoId"])
    assert video.size > 0 and upload_of(url).sha256 == hashlib.sha256(content).hexdigest()


def test_the_same_bytes_sent_twice_at_once_are_stored_once(
    client: Client, invite: Invite, content: bytes
) -> None:
    url = create(client, invite, len(content))["Location"]
    upload = upload_of(url)
    results: list[int] = []
    updated = services.upload_append(
        upload=upload,
        offset=0,
        stream=Interleaved(
            content[:2000], lambda: results.append(patch(client, url, content[:2000], 0).status_code)
        ),
    )
    assert results == [204] and updated.offset == 2000
    assert [(c.offset, c.size) for c in Chunk.objects.filter(upload=upload)] == [(0, 2000)]
    assert len(chunk_files(upload)) == 1


def test_delete_while_a_patch_is_arriving_is_404_and_leaves_nothing(
    client: Client, invite: Invite, content: bytes
) -> None:
    url = create(client, invite, len(content))["Location"]
    upload = upload_of(url)

    def cancel() -> None:
        assert client.delete(url, headers=TUS).status_code == 204

    with pytest.raises(Refused) as refused:
        services.upload_append(upload=upload, offset=0, stream=Interleaved(content[:3000], cancel))
    assert refused.value.status == 404
    assert not Upload.objects.exists() and not Chunk.objects.exists()
    assert not default_storage.exists(f"uploads/{upload.pk}")


def test_delete_between_storing_and_committing_a_chunk_is_404(
    client: Client, invite: Invite, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload goes away after the chunk was stored: the row's foreign key
    refuses it, and the answer is 404, not 500."""
    url = create(client, invite, len(content))["Location"]
    real = services.save_verified

    def store_then_cancel(*args: object, **kwargs: object) -> str:
        name = real(*args, **kwargs)  # type: ignore[arg-type]
        Upload.objects.filter(pk=upload_of(url).pk).delete()
        return name

    monkeypatch.setattr(services, "save_verified", store_then_cancel)
    response = patch(Client(raise_request_exception=False), url, content[:3000], 0)
    assert response.status_code == 404
    assert not Chunk.objects.exists()
    assert not default_storage.exists(f"uploads/{url.rsplit('/', 1)[1]}")


# --- item 4: a crash between claiming the invite and writing the video's row ----------------------


def _die_after_claiming(invite: Invite, upload: Upload | None, content: bytes, *, ago: timedelta) -> str:
    """The state a process killed between claim and row leaves: the original
    stored and verified, the invite's answer marked submitted for it, no row."""
    video_id = upload.pk if upload is not None else __import__("uuid").uuid4()
    name = default_storage.save(f"videos/{video_id}/original.webm", ContentFile(content))
    assert answer_claim(answer=first_answer(invite), video_id=video_id)
    Answer.objects.filter(invite=invite).update(submitted_at=timezone.now() - ago)
    return name


def test_a_finish_retried_after_a_crash_completes_the_submission(
    client: Client, invite: Invite, content: bytes
) -> None:
    url = send(client, invite, content)
    _die_after_claiming(invite, upload_of(url), content, ago=timedelta(seconds=1))
    response = finish(client, invite, url)
    assert response.status_code == 201
    video = Video.objects.get()
    assert str(video.pk) == response.json()["videoId"] == url.rsplit("/", 1)[1]
    assert upload_of(url).sha256 == hashlib.sha256(content).hexdigest()
    with default_storage.open(video.file.name) as stored:
        assert len(stored.read()) == video.size
    assert not Chunk.objects.exists()


def test_a_resent_file_takes_over_a_claim_left_unfinished_a_minute_ago(
    client: Client, invite: Invite, content: bytes
) -> None:
    upload = {"file": ContentFile(content, name="answer.webm")}
    _die_after_claiming(invite, None, content, ago=timedelta(seconds=5))
    url = reverse("api:upload_video", args=[invite.token])
    young = client.post(url, upload)
    assert young.status_code == 503, young.content  # its own request may still finish it
    Answer.objects.filter(invite=invite).update(submitted_at=timezone.now() - timedelta(minutes=2))
    upload["file"].seek(0)
    response = client.post(url, upload)
    assert response.status_code == 201, response.content
    assert str(first_answer(invite).submission_id) == response.json()["videoId"]
    invite.refresh_from_db()
    assert invite.submitted_at is not None
    assert Video.objects.count() == 1


def test_a_submitted_invite_whose_video_was_deleted_stays_submitted(
    client: Client, invite: Invite, content: bytes, recruiter: object
) -> None:
    from videos.services import video_delete

    assert finish(client, invite, send(client, invite, content)).status_code == 201
    video_delete(video=Video.objects.get())
    assert create(client, invite, len(content)).status_code == 409
    assert "0 unfinished submission(s)" in reconcile()


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


def test_reconcile_reports_an_unfinished_submission_and_keeps_its_original(
    invite: Invite, content: bytes
) -> None:
    name = _die_after_claiming(invite, None, content, ago=timedelta(hours=3))
    when = time.time() - 3 * 3600
    os.utime(default_storage.path(name), (when, when))
    out = reconcile()
    label = (
        f"invite {invite.pk} ({invite.email}), question 1: marked submitted, but its video was never recorded"
    )
    assert label in out
    assert f"orphan file {name}: kept, an unfinished submission's original" in out
    assert "1 unfinished submission(s)" in out
    assert default_storage.exists(name) and not Video.objects.exists()


def test_reconcile_fix_records_the_video_from_its_stored_original(invite: Invite, content: bytes) -> None:
    name = _die_after_claiming(invite, None, content, ago=timedelta(hours=3))
    out = reconcile("--fix")
    video = Video.objects.get()
    assert video.pk == first_answer(invite).submission_id and video.file.name == name
    invite.refresh_from_db()
    assert invite.submitted_at is not None
    assert video.sha256 == hashlib.sha256(content).hexdigest() and video.duration_seconds
    assert "completed: video" in out and "recorded from its stored original" in out
    assert default_storage.exists(name)


def test_reconcile_fix_finishes_the_upload_of_a_claim_with_no_original_stored(
    client: Client, invite: Invite, content: bytes
) -> None:
    url = send(client, invite, content)
    name = _die_after_claiming(invite, upload_of(url), content, ago=timedelta(hours=3))
    default_storage.delete(name)  # the crash came before the original was stored
    out = reconcile("--fix")
    assert "recorded from its upload" in out
    assert str(Video.objects.get().pk) == url.rsplit("/", 1)[1]


def test_reconcile_fix_reopens_a_claim_with_nothing_stored(
    client: Client, invite: Invite, content: bytes
) -> None:
    name = _die_after_claiming(invite, None, content, ago=timedelta(hours=3))
    default_storage.delete(name)
    out = reconcile("--fix")
    assert "reopened, the candidate can send again" in out
    answer = first_answer(invite)
    assert answer.submitted_at is None and answer.submission_id is None
    invite.refresh_from_db()
    assert invite.submitted_at is None
    assert finish(client, invite, send(client, invite, content)).status_code == 201


def test_reconcile_fix_deletes_orphan_parts_but_never_a_part_an_upload_needs(
    client: Client, invite: Invite, content: bytes
) -> None:
    url = create(client, invite, len(content))["Location"]
    patch(client, url, content[:1000], 0)
    needed = Chunk.objects.get().name
    orphan = default_storage.save(f"uploads/{upload_of(url).pk}/000000000001000-dead.part", ContentFile(b"x"))
    when = time.time() - 3 * 3600
    for name in (needed, orphan):
        os.utime(default_storage.path(name), (when, when))
    out = reconcile("--fix")
    assert f"orphan file {orphan}: deleted" in out
    assert default_storage.exists(needed) and not default_storage.exists(orphan)


# --- item 11: what one link may hold ---------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_new_upload_of_a_take_replaces_its_unfinished_one(
    client: Client, invite: Invite, content: bytes
) -> None:
    first = create(client, invite, len(content))["Location"]
    patch(client, first, content[:1000], 0)
    second = create(client, invite, len(content))
    assert second.status_code == 201
    assert list(Upload.objects.values_list("pk", flat=True)) == [upload_of(second["Location"]).pk]
    assert not default_storage.exists(f"uploads/{first.rsplit('/', 1)[1]}")
    assert patch(client, first, content[1000:2000], 1000).status_code == 404


def test_an_upload_for_an_older_take_than_one_in_flight_is_refused(client: Client, invite: Invite) -> None:
    for _ in range(2):
        client.post(reverse("api:start_take", args=[invite.token]))
    assert create(client, invite, 5000, **{"Upload-Metadata": f"take {b64('2')}"}).status_code == 201
    older = create(client, invite, 5000, **{"Upload-Metadata": f"take {b64('1')}"})
    assert older.status_code == 409
    assert "newer take" in older.json()["detail"]


@pytest.mark.parametrize("take", ["3", "0", "x", "²"])
def test_an_upload_for_a_take_never_started_is_refused(client: Client, invite: Invite, take: str) -> None:
    client.post(reverse("api:start_take", args=[invite.token]))
    response = create(client, invite, 5000, **{"Upload-Metadata": f"take {b64(take)}"})
    assert response.status_code == 409
    assert not Upload.objects.exists()


def test_an_upload_without_a_take_counts_one_and_none_are_left_after_the_last(
    client: Client, invite: Invite, settings: object
) -> None:
    assert create(client, invite, 5000).status_code == 201
    assert first_answer(invite).takes == 1
    Answer.objects.filter(invite=invite).update(takes=0)
    from django.conf import settings as django_settings

    for _ in range(django_settings.AURIO_MAX_ATTEMPTS):
        client.post(reverse("api:start_take", args=[invite.token]))
    Upload.objects.all().delete()
    Answer.objects.filter(invite=invite).update(takes=django_settings.AURIO_MAX_ATTEMPTS)
    assert create(client, invite, 5000).status_code == 201  # the latest take, not a new one


def test_whole_uploads_waiting_on_one_link_are_bounded(
    client: Client, invite: Invite, content: bytes
) -> None:
    from django.conf import settings as django_settings

    for _ in range(django_settings.AURIO_MAX_ATTEMPTS):
        send(client, invite, content)
    refused = create(client, invite, len(content))
    assert refused.status_code == 409
    assert Upload.objects.count() == django_settings.AURIO_MAX_ATTEMPTS


def test_a_part_smaller_than_the_minimum_is_refused_unless_it_is_the_last(
    client: Client, invite: Invite, settings: object
) -> None:
    settings.AURIO_MIN_CHUNK_BYTES = 65536  # type: ignore[attr-defined]
    data = os.urandom(100_000)
    url = create(client, invite, len(data))["Location"]
    small = patch(client, url, data[:1], 0)
    assert small.status_code == 400
    assert "at least 65536 bytes" in small.json()["detail"]
    assert not Chunk.objects.exists() and not chunk_files(upload_of(url))
    assert patch(client, url, data[:70_000], 0).status_code == 204
    assert patch(client, url, data[70_000:], 70_000).status_code == 204  # the last: any size


def test_a_part_cut_short_below_the_minimum_is_not_stored(
    invite: Invite, client: Client, settings: object
) -> None:
    settings.AURIO_MIN_CHUNK_BYTES = 65536  # type: ignore[attr-defined]
    url = create(client, invite, 200_000)["Location"]

    class Cut(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = False

        def read(self, size: int = -1, /) -> bytes:
            if self.sent:
                raise OSError("the client went away")
            self.sent = True
            return b"x" * 10

    with pytest.raises(Refused) as refused:
        services.upload_append(upload=upload_of(url), offset=0, stream=Cut())
    assert refused.value.status == 400
    assert upload_of(url).offset == 0 and not Chunk.objects.exists()


def test_a_part_above_the_maximum_is_413_before_it_is_read(
    client: Client, invite: Invite, settings: object
) -> None:
    settings.AURIO_MAX_CHUNK_BYTES = 1000  # type: ignore[attr-defined]
    url = create(client, invite, 5000)["Location"]
    response = patch(client, url, b"x" * 1001, 0)
    assert response.status_code == 413
    assert "at most 1000 bytes" in response.json()["detail"]
    assert not Chunk.objects.exists()
    assert patch(client, url, b"x" * 1000, 0).status_code == 204


def test_the_sweep_expires_uploads_that_can_never_be_finished(
    client: Client, invite: Invite, content: bytes
) -> None:
    from invites.services import invite_revoke

    url = create(client, invite, len(content))["Location"]
    patch(client, url, content[:1000], 0)
    other = invite_create(email="late@example.com")
    stale = create(client, other, len(content))["Location"]
    patch(client, stale, content[:1000], 0)
    Upload.objects.filter(pk=upload_of(stale).pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    kept = invite_create(email="kept@example.com")
    alive = create(client, kept, len(content))["Location"]
    invite_revoke(invite=invite)

    call_command("process_videos", "--stuck", stdout=StringIO())

    assert list(Upload.objects.values_list("pk", flat=True)) == [upload_of(alive).pk]
    assert not default_storage.exists(f"uploads/{url.rsplit('/', 1)[1]}")


# --- item 12: no 500 for bad input, one answer for concurrent finishes ---------------------------


def test_control_characters_in_tus_metadata_are_dropped(client: Client, invite: Invite) -> None:
    metadata = f"filename {b64('ans\x00wer\x07.webm')},filetype {b64('video/webm\x00')}"
    response = create(client, invite, 5000, **{"Upload-Metadata": metadata})
    assert response.status_code == 201
    upload = upload_of(response["Location"])
    assert (upload.filename, upload.filetype) == ("answer.webm", "video/webm")


@pytest.mark.django_db(transaction=True)
def test_concurrent_finishes_all_answer_with_the_same_video(
    live_server: object, invite: Invite, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import http.client
    from urllib.parse import urlsplit

    from uploads import accept

    client = Client()
    url = send(client, invite, content)
    real_enqueue = accept.enqueue_processing

    def slow_enqueue(video: Video) -> bool:
        time.sleep(1)  # the others arrive while the first one's row is written but not yet linked
        return real_enqueue(video)

    monkeypatch.setattr(accept, "enqueue_processing", slow_enqueue)
    address = urlsplit(live_server.url)  # type: ignore[attr-defined]
    path = reverse("api:finish_upload", args=[invite.token, url.rsplit("/", 1)[1]])
    answers: list[tuple[int, bytes]] = []

    def post() -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        connection.request("POST", path)
        reply = connection.getresponse()
        answers.append((reply.status, reply.read()))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} <= {200, 201} and len(answers) == 4
    assert len({body for _, body in answers}) == 1
    assert Video.objects.count() == 1
    assert len(default_storage.listdir(f"videos/{Video.objects.get().pk}")[1]) == 1


# --- item 13: leftovers of killed processes and refused uploads ----------------------------------


def test_a_refused_upload_leaves_no_folder_behind(client: Client, invite: Invite) -> None:
    junk = b"not a video at all " * 100
    url = send(client, invite, junk)
    assert finish(client, invite, url).status_code == 415
    assert not default_storage.exists(f"uploads/{url.rsplit('/', 1)[1]}")


def test_the_sweep_and_reconcile_remove_old_temporary_files_only(settings: object, tmp_path: Path) -> None:
    from aurio.storage import temp_dir

    folder = Path(temp_dir() or "")
    old_dir = folder / "aurio-chunk-dead"
    old_dir.mkdir()
    (old_dir / "chunk").write_bytes(b"x" * 10)
    young = folder / "aurio-finish-alive"
    young.mkdir()
    when = time.time() - 3 * 3600
    for path in (old_dir / "chunk", old_dir):
        os.utime(path, (when, when))
    assert f"temporary file {old_dir}" in reconcile()
    assert old_dir.exists()
    call_command("process_videos", "--stuck", stdout=StringIO())
    assert not old_dir.exists() and young.exists()
    young.rmdir()


def test_the_sweep_removes_at_once_the_work_folders_of_a_process_that_died(settings: object) -> None:
    """A finish killed mid-way leaves the file assembled and remuxed (twice its
    size): on a tight disk the retry has no room, so waiting an hour is too long."""
    import socket
    import subprocess

    from aurio.storage import temp_dir

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    folder = Path(temp_dir() or "")
    orphaned = folder / f"aurio-finish-{dead.pid}@{host}@x1"
    alive = folder / f"aurio-finish-{os.getpid()}@{host}@x2"
    elsewhere = folder / f"aurio-finish-{dead.pid}@another-machine@x3"
    for path in (orphaned, alive, elsewhere):
        path.mkdir()
        (path / "upload").write_bytes(b"x" * 100)

    call_command("process_videos", "--stuck", stdout=StringIO())

    assert not orphaned.exists()
    assert alive.exists() and elsewhere.exists()  # a live process's, and one this machine can't judge
    for path in (alive, elsewhere):
        (path / "upload").unlink()
        path.rmdir()
