"""Property-based tests (hypothesis) for resumable uploads: the header parsers refuse
junk only with Refused, and no sequence of PATCHes (right, wrong, retried, damaged)
corrupts an upload."""

from __future__ import annotations

import base64
import hashlib
import itertools
import tempfile
from pathlib import Path

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurio.errors import Refused
from invites.models import Invite
from invites.services import invite_create
from uploads.models import Upload
from uploads.services import Checksum, _assemble, parse_metadata
from uploads.tests.test_tus import TUS, create, patch

# --- header parsers -----------------------------------------------------------------------------

b64_text = st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())
metadata_pair = st.tuples(st.text(max_size=10), st.one_of(b64_text, st.text(max_size=20))).map(" ".join)
metadata_headers = st.one_of(st.text(), st.lists(metadata_pair, max_size=4).map(",".join))
checksum_headers = st.one_of(
    st.text(),
    st.tuples(
        st.sampled_from(["sha1", "sha256", "md5", "crc32", "", "SHA1"]), st.one_of(b64_text, st.text())
    ).map(" ".join),
)


@given(header=metadata_headers)
@settings(max_examples=200, deadline=None)
def test_parse_metadata_refuses_only_with_tus_error(header: str) -> None:
    try:
        metadata = parse_metadata(header)
    except Refused as exc:
        assert exc.status == 400
        return
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in metadata.items())


@given(header=checksum_headers)
@settings(max_examples=200, deadline=None)
def test_checksum_parse_refuses_only_with_tus_error(header: str) -> None:
    try:
        checksum = Checksum.parse(header)
    except Refused as exc:
        assert exc.status == 400
        return
    assert checksum.algorithm in ("sha1", "sha256", "md5")


# --- PATCH sequences ----------------------------------------------------------------------------

# One step of a client that is sometimes right, sometimes wrong and sometimes retries.
steps = st.one_of(
    st.tuples(st.just("next"), st.integers(1, 700)),  # the next bytes at the right offset
    st.tuples(st.just("retry"), st.integers(0, 50)),  # one of the chunks sent before, again
    st.tuples(st.just("wrong_offset"), st.integers(-700, 700).filter(bool)),
    st.tuples(st.just("old_offset_other_bytes"), st.integers(0, 50)),
    st.tuples(st.just("bad_checksum"), st.integers(1, 700)),
    st.tuples(st.just("good_checksum"), st.integers(1, 700)),
    st.tuples(st.just("too_long"), st.integers(1, 100)),
    st.tuples(st.just("empty"), st.just(0)),
    st.tuples(st.just("head"), st.just(0)),
)

_addresses = itertools.count(1)


def _sha1(data: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()


@pytest.mark.django_db
@given(content=st.binary(min_size=1, max_size=3000), script=st.lists(steps, max_size=14))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_sequence_of_patches_keeps_the_upload_intact(
    invite: Invite, content: bytes, script: list[tuple[str, int]]
) -> None:
    # An address of its own, so the per-address rate limits see only this
    # example, and an invite of its own (a link keeps only a few whole uploads).
    n = next(_addresses)
    client = Client(REMOTE_ADDR=f"198.51.100.{n % 250 + 1}")
    invite = invite_create(email=f"example{n}@example.com")
    created = create(client, invite, len(content))
    assert created.status_code == 201, created.content
    url = created["Location"]
    offset = 0  # what the server must say
    sent: list[tuple[int, bytes]] = []  # chunks the server accepted

    def send(at: int, data: bytes, **headers: str) -> int:
        response = patch(client, url, data, at, **headers)
        assert response.status_code < 500, response.content
        if response.status_code == 204:
            assert response["Upload-Offset"] == str(offset if at != offset else at + len(data))
        return response.status_code

    for action, n in script:
        remaining = len(content) - offset
        if action == "next" and remaining:
            data = content[offset : offset + n]
            assert send(offset, data) == 204
            sent.append((offset, data))
            offset += len(data)
        elif action == "retry" and sent:
            at, data = sent[n % len(sent)]
            assert send(at, data) == 204  # already stored: accepted, nothing moves
        elif action == "wrong_offset":
            at = offset + n
            if at < 0:
                continue
            status = send(at, content[at : at + 10])
            # Ahead of the server: refused. Behind it: a retry if those exact bytes are stored there.
            assert status == 409 if at > offset else status in (204, 409)
        elif action == "old_offset_other_bytes" and sent:
            at, data = sent[n % len(sent)]
            assert send(at, bytes(b ^ 0xFF for b in data)) == 409
        elif action == "bad_checksum" and remaining:
            data = content[offset : offset + n]
            assert send(offset, bytes(b ^ 1 for b in data), **{"Upload-Checksum": _sha1(data)}) == 460
        elif action == "good_checksum" and remaining:
            data = content[offset : offset + n]
            assert send(offset, data, **{"Upload-Checksum": _sha1(data)}) == 204
            sent.append((offset, data))
            offset += len(data)
        elif action == "too_long":
            assert send(offset, content[offset:] + b"x" * n) == 413
        elif action == "empty":
            assert send(offset, b"") == 204
        head = client.head(url, headers=TUS)
        assert head.status_code == 200
        assert head["Upload-Offset"] == str(offset)

    # Finish it the plain way, then the stored chunks must be exactly the file.
    while offset < len(content):
        data = content[offset : offset + 1024]
        assert send(offset, data) == 204
        offset += len(data)
    upload = Upload.objects.get(pk=url.rsplit("/", 1)[1])
    assert upload.is_complete
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "assembled"
        digest = _assemble(upload, path)
        assert path.read_bytes() == content
    assert digest == hashlib.sha256(content).hexdigest()


byte_headers = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
    st.text(alphabet="0123456789²³¹", min_size=1, max_size=6),
    st.just("1" * 4301),
)


@pytest.mark.django_db
@given(length=byte_headers, offset=byte_headers)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_byte_count_headers_never_cause_a_server_error(
    client: Client, invite: Invite, length: str, offset: str
) -> None:
    created = create(client, invite, 0, **{"Upload-Length": length})
    assert created.status_code < 500
    url = create(client, invite, 100)["Location"]
    assert patch(client, url, b"x", 0, **{"Upload-Offset": offset}).status_code < 500
