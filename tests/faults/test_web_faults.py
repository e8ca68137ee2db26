"""Uploads meet a crashing web process and a misbehaving network.

aurio runs under real gunicorn (tests/support/server.py); the client is a plain
tus client (tests/support/tus.py) sending an ~8 MB MP4 in 1 MiB chunks, directly
or through the fault-injecting proxy (tests/support/faultproxy.py). In every case
the outcome is checked on the server's side: its committed chunks match the
source byte for byte, the SHA-256 it records for the assembled upload is the
source's, and exactly one video exists, none before the candidate finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.checks import assert_kept_but_not_submitted, assert_one_identical_video, resume_and_finish
from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.server import HOST, WIRE_ERRORS, AurioServer, wait_until
from tests.support.tus import MIB, TusUpload


@pytest.fixture
def front(aurio: AurioServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy between the client and the shared server."""
    with fault_proxy(HOST, aurio.port) as proxy:
        yield proxy


def test_web_process_killed_mid_patch_resumes_into_one_identical_video(
    start_aurio: Callable[..., AurioServer], large_video: bytes
) -> None:
    server = start_aurio(env={"WEB_CONCURRENCY": "2"})
    invite = server.new_invite()
    tus = TusUpload(server.port, invite["token"], large_video)
    tus.create()
    committed = tus.send_chunks(2)
    assert committed == 2 * MIB

    # Half of the third chunk's body is on its way when master and workers die.
    connection = tus.start_patch(committed, MIB // 2)
    wait_until(server.spooling, what="the worker to start reading the PATCH body")
    assert len(server.pids()) == 3  # the master and two workers
    server.kill()
    connection.close()
    with pytest.raises(WIRE_ERRORS):
        tus.head()

    server.start()
    # Back at a chunk boundary: the half chunk was never committed.
    assert_kept_but_not_submitted(server, tus, invite["id"], committed)
    tus.resume()
    # Complete, but not submitted until the candidate finishes.
    assert_kept_but_not_submitted(server, tus, invite["id"], len(large_video))
    resume_and_finish(server, tus, invite["id"])


@pytest.mark.parametrize("checksum", [True, False], ids=["checksummed", "bare"])
@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed"])
def test_patch_cut_mid_body_keeps_only_whole_data_and_resumes(
    aurio: AurioServer, front: FaultProxy, large_video: bytes, reset: bool, checksum: bool
) -> None:
    invite = aurio.new_invite()
    tus = TusUpload(front.port, invite["token"], large_video, checksum=checksum)
    tus.create()
    committed = tus.send_chunks(1)

    # The network drops halfway through the next chunk: by a reset, or a plain close.
    front.cut_after(MIB // 2, reset=reset)
    with pytest.raises(WIRE_ERRORS):
        reply = tus.patch(committed)
        raise AssertionError(f"the cut PATCH was answered: {reply}")
    # gunicorn logs a request once it is done with it (after the answer went out).
    wait_until(
        lambda: len(aurio.answered("PATCH", tus.upload_id)) == tus.patches,
        what="the server to be done with the cut PATCH",
    )
    offset = tus.head()
    if checksum:
        # A chunk that arrives short can't match its checksum: nothing of it is kept.
        assert offset == committed
    else:
        # Without a checksum tus lets the server keep what arrived, and no more.
        assert committed <= offset < committed + MIB // 2
    assert_kept_but_not_submitted(aurio, tus, invite["id"], offset)
    resume_and_finish(aurio, tus, invite["id"])


def test_throttled_upload_arrives_whole(aurio: AurioServer, front: FaultProxy, large_video: bytes) -> None:
    invite = aurio.new_invite()
    tus = TusUpload(front.port, invite["token"], large_video)
    front.throttle(8 * MIB)  # about a second for the whole file, in 4 KB steps
    tus.create()
    resume_and_finish(aurio, tus, invite["id"])


def test_finish_whose_answer_is_lost_is_retried_into_the_same_single_video(
    aurio: AurioServer, front: FaultProxy, large_video: bytes
) -> None:
    invite = aurio.new_invite()
    tus = TusUpload(front.port, invite["token"], large_video)
    tus.create()
    tus.resume()

    # The server makes the video, but its answer never reaches the client.
    front.cut_response_after(0)
    with pytest.raises(WIRE_ERRORS):
        reply = tus.finish()
        raise AssertionError(f"the cut finish was answered: {reply}")
    wait_until(lambda: aurio.answered("POST", f"{tus.upload_id}/finish"), what="the server to end the finish")
    assert aurio.answered("POST", f"{tus.upload_id}/finish") == [201]

    retried = tus.finish()
    assert retried.status == 200, retried  # "already done", with the same video
    assert assert_one_identical_video(aurio, tus, invite["id"]) == retried.json()["videoId"]
