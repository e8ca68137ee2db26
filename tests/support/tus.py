"""A tus 1.0 client as aurio's record page is one, in plain http.client:
creation, PATCHes of `chunk` bytes (each with an Upload-Checksum unless told
not to), HEAD to learn where to carry on, then aurio's finish call.

By default every request opens its own connection, so a test decides what
each one meets (a proxy's cut, a killed server); `port` may change between
requests. With `keep_alive=True` they share one persistent connection, as a
browser's do (a new one only after a failure): what the benchmarks measure.

The file is bytes, or a path read a MiB at a time while its PATCH is sent (a
benchmark's 480 MB file is never in memory at once).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.support.server import HOST, WIRE_ERRORS, Reply

TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1 << 20
# A request body: bytes, or blocks of it sent one after the other.
Body = bytes | Iterable[bytes]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TusUpload:
    def __init__(
        self,
        port: int,
        token: str,
        data: bytes | Path,
        *,
        chunk: int = MIB,
        checksum: bool = True,
        keep_alive: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.port = port
        self.token = token
        self.data = data
        self.length = len(data) if isinstance(data, bytes) else data.stat().st_size
        self.chunk = chunk
        self.checksum = checksum
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.location = ""
        self.patches = 0  # PATCH requests sent, answered or not
        self.resumes = 0  # times a failed request made the client ask where to carry on
        self.connections = 0  # TCP connections opened
        self._kept: _Connection | None = None

    @property
    def upload_id(self) -> str:
        return self.location.rstrip("/").rsplit("/", 1)[-1]

    def create(self) -> None:
        name = self.data.name if isinstance(self.data, Path) else "answer.mp4"
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (("filename", name), ("filetype", "video/mp4"))
        )
        reply = self._tus(
            "POST",
            f"/api/v1/tus/{self.token}/",
            {"Upload-Length": str(self.length), "Upload-Metadata": metadata},
        )
        assert reply.status == 201, reply
        self.location = reply.headers["Location"]

    def head(self) -> int:
        """The server's offset."""
        reply = self._tus("HEAD", self.location)
        assert reply.status == 200, reply
        assert reply.headers["Upload-Length"] == str(self.length)
        return int(reply.headers["Upload-Offset"])

    def patch(self, offset: int) -> Reply:
        """Send the chunk that starts at `offset`."""
        length = min(self.chunk, self.length - offset)
        self.patches += 1
        headers = {**self._patch_headers(offset, length), "Content-Length": str(length)}
        return self._tus("PATCH", self.location, headers, self._blocks(offset, length))

    def start_patch(self, offset: int, send: int) -> http.client.HTTPConnection:
        """Send the head of the PATCH at `offset` and the first `send` bytes of its
        body, and leave the request hanging there (the caller closes the connection)."""
        length = min(self.chunk, self.length - offset)
        connection = _Connection(self)
        self.patches += 1
        connection.putrequest("PATCH", self.location, skip_accept_encoding=True)
        headers = {**TUS, **self._patch_headers(offset, length), "Content-Length": str(length)}
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(b"".join(self._blocks(offset, length))[:send])
        return connection

    def send_chunks(self, count: int) -> int:
        """PATCH `count` whole chunks from the server's offset on; returns the new offset."""
        offset = self.head()
        for _ in range(count):
            reply = self.patch(offset)
            assert reply.status == 204, reply
            offset = int(reply.headers["Upload-Offset"])
        return offset

    def resume(self, *, offset: int | None = None, attempts: int = 20, pause: float = 0.0) -> None:
        """Send the rest as a tus client does: from `offset`, or from the server's
        offset (HEAD), to the end. After a failed request (on the wire, or refused
        for now: a 409 when the server is elsewhere, say still storing what
        arrived of a cut request, or a 503) ask the server's offset again,
        `pause` seconds times the failures so far later; `attempts` times at most."""
        for _ in range(attempts):
            try:
                if offset is None:
                    offset = self.head()
                while offset < self.length:
                    reply = self.patch(offset)
                    if reply.status != 204:
                        assert reply.status in (409, 503), reply
                        break
                    offset = int(reply.headers["Upload-Offset"])
                else:
                    return
            except WIRE_ERRORS:
                pass
            offset = None
            self.resumes += 1
            time.sleep(pause * self.resumes)
        raise AssertionError(f"the upload did not complete in {attempts} attempts")

    def finish(self) -> Reply:
        return self._send("POST", f"/api/v1/uploads/{self.token}/{self.upload_id}/finish")

    def close(self) -> None:
        """Close the kept-alive connection, if there is one."""
        if self._kept is not None:
            self._kept.close()

    def _blocks(self, offset: int, length: int) -> Iterator[bytes]:
        """The bytes [offset, offset + length) of the file, a MiB at a time from a path."""
        if isinstance(self.data, bytes):
            yield self.data[offset : offset + length]
            return
        with self.data.open("rb") as f:
            f.seek(offset)
            while length > 0:
                block = f.read(min(MIB, length))
                assert block, f"{self.data} ended early"
                length -= len(block)
                yield block

    def _patch_headers(self, offset: int, length: int) -> dict[str, str]:
        headers = {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
        if self.checksum:
            digest = hashlib.sha256()
            for block in self._blocks(offset, length):
                digest.update(block)
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(digest.digest()).decode()
        return headers

    def _tus(self, method: str, path: str, headers: dict[str, str] | None = None, body: Body = b"") -> Reply:
        return self._send(method, path, {**TUS, **(headers or {})}, body)

    def _send(self, method: str, path: str, headers: dict[str, str] | None = None, body: Body = b"") -> Reply:
        """One request, on the kept-alive connection or on a new one; the whole body read."""
        connection = self._kept or _Connection(self)
        if self.keep_alive:
            self._kept = connection
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        except WIRE_ERRORS:
            connection.close()  # a kept-alive one opens again for the next request
            raise
        finally:
            if not self.keep_alive:
                connection.close()


class _Connection(http.client.HTTPConnection):
    """A connection to the upload's port that counts, on the upload, each TCP connection it opens."""

    def __init__(self, upload: TusUpload) -> None:
        super().__init__(HOST, upload.port, timeout=upload.timeout)
        self.upload = upload

    def connect(self) -> None:
        super().connect()
        self.upload.connections += 1
