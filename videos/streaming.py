"""HTTP Range responses for stored videos (RFC 9110 §14), on any WSGI server.

Under gunicorn a 206 for a local file goes out through sendfile: gunicorn's
file wrapper starts at the file's current offset and sends Content-Length
bytes. Other servers' wrappers (wsgiref in runserver) send to end of file, so
there the body is a generator that reads exactly the range.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO
from urllib.parse import quote

from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, parse_http_date_safe

from videos.models import Video

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.IGNORECASE)
# Past any file's size; also keeps int() away from absurdly long digit strings.
_HUGE = 10**18
# What a stored file may be served as: a picture or a video, never anything a
# browser would run. Anything else goes out as opaque bytes, to be saved.
_SAFE_TYPE = re.compile(r"^(video|image)/[a-z0-9][a-z0-9.+-]*$")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")
_CONTROL_OR_SEPARATOR = re.compile(r"[\x00-\x1f\x7f/\\]")
# The media response itself, should a browser ever open it as a document:
# nothing may load or run in it, and it gets an origin of its own.
MEDIA_CSP = "default-src 'none'; sandbox"


class Unsatisfiable(Exception):
    pass


class MissingFile(Exception):
    """The row exists but its file does not: `manage.py` reconcile territory."""


def safe_content_type(content_type: str) -> str:
    """The type to send: aurio's own (probed) type if it is video/* or image/*, else opaque bytes."""
    normalized = content_type.strip().lower()
    return normalized if _SAFE_TYPE.match(normalized) else "application/octet-stream"


def content_disposition(filename: str, *, attachment: bool = False) -> str:
    """Content-Disposition for `filename` (RFC 6266): a plain ASCII name that
    needs no quoting rules, plus the name itself as RFC 8187 `filename*` when
    it differs (control characters and path separators replaced)."""
    kind = "attachment" if attachment else "inline"
    plain = _UNSAFE_NAME_CHARACTERS.sub("_", filename).lstrip(".") or "video"
    exact = _CONTROL_OR_SEPARATOR.sub("_", filename).lstrip(".") or plain
    if exact == plain:
        return f'{kind}; filename="{plain}"'
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(exact, safe='')}"


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte range asked for, or None for "the whole file".

    A header that is malformed, or asks for several ranges, is ignored as the
    RFC allows; a well-formed range that lies wholly past the end raises
    Unsatisfiable.
    """
    match = _RANGE.match(header or "")
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = _number(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return max(size - length, 0), size - 1
    start = _number(first)
    if last and _number(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    end = _number(last) if last else size - 1
    return start, min(end, size - 1)


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


def _if_range_allows(request: HttpRequest, etag: str, last_modified: int) -> bool:
    """If-Range: serve the range only if the validator still matches (strong comparison)."""
    value = request.headers.get("If-Range")
    if not value:
        return True
    if value.startswith('"') or value.startswith("W/"):
        return value == etag
    return parse_http_date_safe(value) == last_modified


class RangeFile:
    """The seeked file, ending where the range ends.

    gunicorn's sendfile path takes fileno() and sends Content-Length bytes
    from the current offset (zero-copy); every other path (wsgiref under
    runserver, gunicorn without sendfile, TLS) reads until read() returns
    nothing, which here is the end of the range, not of the file. No seek()
    or tell(), so FileResponse leaves Content-Length to the view.
    """

    def __init__(self, f: IO[bytes], length: int) -> None:
        self._file = f
        self._left = length
        self.name = getattr(f, "name", "")

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._file.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()


def _local_path(storage: Storage, name: str) -> str | None:
    try:
        return storage.path(name)
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class Stored:
    """One stored file of a video, as the Range view needs it."""

    file: FieldFile
    size: int
    content_type: str
    etag: str
    last_modified: int
    filename: str
    video_id: object


def original_of(video: Video) -> Stored:
    return Stored(
        file=video.file,
        size=video.size,
        content_type=video.content_type,
        etag=video.etag,
        last_modified=int(video.created_at.timestamp()),
        filename=f"video-{video.id}{PurePath(video.file.name or '').suffix}",
        video_id=video.id,
    )


def _derived(video: Video, file: FieldFile, size: int | None, content_type: str) -> Stored | None:
    if not file or size is None:
        return None
    # Output names carry their processing run, so name and size identify the content.
    tag = hashlib.sha256(f"{file.name}:{size}".encode()).hexdigest()[:24]
    when = video.processed_at or video.created_at
    return Stored(
        file=file,
        size=size,
        content_type=content_type,
        etag=f'"{video.sha256[:16]}-{tag}"',
        last_modified=int(when.timestamp()),
        filename=f"video-{video.id}-{PurePath(file.name or '').name}",
        video_id=video.id,
    )


def playback_of(video: Video) -> Stored | None:
    """The MP4 rendition, once processing has made it."""
    return _derived(video, video.playback, video.playback_size, "video/mp4")


def poster_of(video: Video) -> Stored | None:
    return _derived(video, video.poster, video.poster_size, "image/jpeg")


def stream_video(request: HttpRequest, video: Video) -> HttpResponseBase:
    """Answer GET or HEAD for a video's original bytes, with Range and conditional requests."""
    return stream_stored(request, original_of(video))


def presigned_url(stored: Stored) -> str | None:
    """A short-lived signed URL for object stores that make them (S3), else None.

    The view has already authorised the request; the object store then serves
    Range itself, and the bytes never pass through a web worker.
    """
    storage = stored.file.storage
    if not getattr(storage, "querystring_auth", False):
        return None
    content_type = safe_content_type(stored.content_type)
    parameters = {
        # The object store sends these in place of whatever the object was saved with.
        "ResponseContentType": content_type,
        "ResponseContentDisposition": _disposition_for(stored.filename, content_type),
        "ResponseCacheControl": "private, max-age=300",
    }
    return str(storage.url(stored.file.name or "", parameters=parameters))  # type: ignore[call-arg]


def _disposition_for(filename: str, content_type: str) -> str:
    # Opaque bytes are saved, never shown.
    return content_disposition(filename, attachment=content_type == "application/octet-stream")


def stream_stored(request: HttpRequest, stored: Stored) -> HttpResponseBase:
    """Answer GET or HEAD for one stored file, with Range and conditional requests."""
    signed = presigned_url(stored)
    if signed is not None:
        redirect = HttpResponseRedirect(signed)
        redirect["Cache-Control"] = "private, no-store"  # the signature expires
        return redirect
    size = stored.size
    etag = stored.etag
    last_modified = stored.last_modified
    content_type = safe_content_type(stored.content_type)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(last_modified),
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": _disposition_for(stored.filename, content_type),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_CSP,
    }
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if not_modified is not None:
        for key in ("ETag", "Last-Modified", "Cache-Control"):
            not_modified[key] = headers[key]
        return not_modified

    byte_range = None
    if request.method == "GET" or request.method == "HEAD":
        try:
            if _if_range_allows(request, etag, last_modified):
                byte_range = parse_range(request.headers.get("Range", ""), size)
        except Unsatisfiable:
            refused = HttpResponse(status=416, headers=headers, content_type=content_type)
            refused["Content-Range"] = f"bytes */{size}"
            return refused

    start, end = byte_range if byte_range else (0, size - 1)
    length = end - start + 1
    status = 206 if byte_range else 200
    if byte_range:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"

    if request.method == "HEAD":
        head = HttpResponse(status=status, headers=headers, content_type=content_type)
        head["Content-Length"] = str(length)
        return head

    storage, name = stored.file.storage, stored.file.name or ""
    path = _local_path(storage, name)
    try:
        f: IO[bytes] = open(path, "rb") if path else storage.open(name, "rb")  # noqa: SIM115
    except FileNotFoundError as exc:
        log.error("video %s: file %s is missing from storage", stored.video_id, name)
        raise MissingFile(f"This video's file is missing from storage ({stored.video_id}).") from exc
    f.seek(start)
    response = FileResponse(RangeFile(f, length), status=status, content_type=content_type)
    response.block_size = CHUNK  # for servers that copy rather than sendfile
    # Set last: FileResponse fills in a disposition of its own.
    for key, value in headers.items():
        response[key] = value
    response["Content-Length"] = str(length)
    return response
