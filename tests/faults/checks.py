"""What the fault tests check on the server's side after a fault: what the
server keeps of an upload, and what a recruiter sees of it."""

from __future__ import annotations

from tests.support.server import AurioServer
from tests.support.tus import TusUpload, sha256


def assert_not_submitted(server: AurioServer, invite_id: str) -> None:
    """What a recruiter sees of an unfinished upload: no video, invite not submitted."""
    invite = server.invite(invite_id)
    assert invite["status"] in ("open", "opened"), invite
    assert invite["latestVideoId"] is None, invite
    assert server.videos_of(invite_id) == []


def stored_chunks(server: AurioServer, tus: TusUpload) -> list[tuple[int, int, str]]:
    """(offset, size, sha256) of the chunks the server has committed, in order."""
    return [
        (int(offset), int(size), str(digest))
        for offset, size, digest in server.database.rows(
            'SELECT "offset", size, sha256 FROM uploads_chunk WHERE upload_id = %s ORDER BY "offset"',
            tus.upload_id,
        )
    ]


def assert_chunks_match_source(server: AurioServer, tus: TusUpload, offset: int) -> None:
    """The server's committed chunks cover [0, offset) without a gap and hold the source's bytes."""
    chunks = stored_chunks(server, tus)
    assert [start for start, _, _ in chunks] == [sum(c[1] for c in chunks[:i]) for i in range(len(chunks))]
    assert sum(size for _, size, _ in chunks) == offset
    for start, size, digest in chunks:
        assert digest == sha256(tus.data[start : start + size]), f"chunk at {start} differs from the source"


def assert_one_identical_video(server: AurioServer, tus: TusUpload, invite_id: str) -> str:
    """Exactly one video, made of exactly the source's bytes (as the server
    assembled them: the stored original may be remuxed after); returns its id."""
    videos = server.videos_of(invite_id)
    assert len(videos) == 1, videos
    [(upload_sha256, video_id)] = server.database.rows(
        "SELECT sha256, video_id FROM uploads_upload WHERE id = %s", tus.upload_id
    )
    assert upload_sha256 == sha256(tus.data)
    assert str(video_id) == videos[0]["id"]
    assert server.invite(invite_id)["status"] == "submitted"
    return str(video_id)


def assert_kept_but_not_submitted(server: AurioServer, tus: TusUpload, invite_id: str, offset: int) -> None:
    """After a fault: the server keeps the source's first `offset` bytes, and shows no video yet."""
    assert tus.head() == offset
    assert_chunks_match_source(server, tus, offset)
    assert_not_submitted(server, invite_id)


def resume_and_finish(server: AurioServer, tus: TusUpload, invite_id: str) -> str:
    """The client carries on from the server's offset and finishes: one video of
    the source's bytes. Returns its id."""
    tus.resume()
    finished = tus.finish()
    assert finished.status == 201, finished
    video_id = assert_one_identical_video(server, tus, invite_id)
    assert video_id == finished.json()["videoId"]
    return video_id
