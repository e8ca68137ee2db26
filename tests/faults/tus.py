"""A tus 1.0 client as aurio's record page is one, in plain http.client:
creation, PATCHes of `chunk` bytes (each with an Upload-Checksum unless told
not to), HEAD to learn where to carry on, then aurio's finish call.

Every request opens its own connection, so a test decides what each one meets
(a proxy's cut, a killed server); `port` may change between requests.
"""

from __future__ import annotations

import base64
import hashlib
import http.client

from tests.support.server import HOST, WIRE_ERRORS, Database, Reply, fetch

TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1 << 20


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TusUpload:
    def __init__(
        self, port: int, token: str, data: bytes, *, chunk: int = MIB, checksum: bool = True
    ) -> None:
        self.port = port
        self.token = token
        self.data = data
        self.chunk = chunk
        self.checksum = checksum
        self.location = ""
        self.patches = 0  # PATCH requests sent, answered or not

    @property
    def upload_id(self) -> str:
        return self.location.rstrip("/").rsplit("/", 1)[-1]

    def create(self) -> None:
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (("filename", "answer.mp4"), ("filetype", "video/mp4"))
        )
        reply = self._fetch(
            "POST",
            f"/api/v1/tus/{self.token}/",
            {"Upload-Length": str(len(self.data)), "Upload-Metadata": metadata},
        )
        assert reply.status == 201, reply
        self.location = reply.headers["Location"]

    def head(self) -> int:
        """The server's offset."""
        reply = self._fetch("HEAD", self.location)
        assert reply.status == 200, reply
        assert reply.headers["Upload-Length"] == str(len(self.data))
        return int(reply.headers["Upload-Offset"])

    def patch(self, offset: int) -> Reply:
        """Send the chunk that starts at `offset`."""
        body = self.data[offset : offset + self.chunk]
        self.patches += 1
        return self._fetch("PATCH", self.location, self._patch_headers(offset, body), body)

    def start_patch(self, offset: int, send: int) -> http.client.HTTPConnection:
        """Send the head of the PATCH at `offset` and the first `send` bytes of its
        body, and leave the request hanging there (the caller closes the connection)."""
        body = self.data[offset : offset + self.chunk]
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        self.patches += 1
        connection.putrequest("PATCH", self.location, skip_accept_encoding=True)
        headers = {**TUS, **self._patch_headers(offset, body), "Content-Length": str(len(body))}
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(body[:send])
        return connection

    def send_chunks(self, count: int) -> int:
        """PATCH `count` whole chunks from the server's offset on; returns the new offset."""
        offset = self.head()
        for _ in range(count):
            reply = self.patch(offset)
            assert reply.status == 204, reply
            offset = int(reply.headers["Upload-Offset"])
        return offset

    def resume(self, attempts: int = 20) -> None:
        """Carry on to the end as a tus client does: ask the offset, send from
        there, and after a failed request (on the wire, or refused for now) ask again."""
        for _ in range(attempts):
            try:
                offset = self.head()
                while offset < len(self.data):
                    reply = self.patch(offset)
                    if reply.status != 204:
                        assert reply.status in (409, 503), reply
                        break
                    offset = int(reply.headers["Upload-Offset"])
                else:
                    return
            except WIRE_ERRORS:
                continue
        raise AssertionError(f"the upload did not complete in {attempts} attempts")

    def finish(self) -> Reply:
        return fetch(self.port, "POST", f"/api/v1/uploads/{self.token}/{self.upload_id}/finish")

    def _patch_headers(self, offset: int, body: bytes) -> dict[str, str]:
        headers = {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
        if self.checksum:
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(hashlib.sha256(body).digest()).decode()
        return headers

    def _fetch(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        return fetch(self.port, method, path, body=body, headers={**TUS, **(headers or {})})

    def stored_chunks(self, database: Database) -> list[tuple[int, int, str]]:
        """(offset, size, sha256) of the chunks the server has committed, in order."""
        return [
            (int(offset), int(size), str(digest))
            for offset, size, digest in database.rows(
                'SELECT "offset", size, sha256 FROM uploads_chunk WHERE upload_id = %s ORDER BY "offset"',
                self.upload_id,
            )
        ]
