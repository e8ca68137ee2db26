"""Property-based tests (hypothesis) for the parts of videos that read untrusted input:
the Range header parser, the streaming view behind it, and the container sniffer."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from videos.media import NotAVideo, sniff
from videos.models import Video
from videos.streaming import Unsatisfiable, parse_range

# Header values reach Django as latin-1 text (PEP 3333).
header_text = st.text(st.characters(codec="latin-1"), max_size=40)
number = st.one_of(st.just(""), st.integers(0, 10**20).map(str), st.integers(0, 2_000_000).map(str))
space = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def range_headers(draw: st.DrawFn) -> str:
    """Mostly well-formed single ranges (open, suffix, past the end, reversed), some lists and junk."""
    unit = draw(st.sampled_from(["bytes", "BYTES", "Bytes", "bits", "", "bytes "]))
    ranges = [
        f"{draw(space)}{draw(number)}{draw(space)}-{draw(space)}{draw(number)}{draw(space)}"
        for _ in range(draw(st.integers(1, 3)))
    ]
    return f"{draw(space)}{unit}{draw(space)}={','.join(ranges)}{draw(st.sampled_from(['', ' ', ',', ';x']))}"


any_header = st.one_of(range_headers(), header_text)


@given(header=any_header, size=st.integers(0, 10**12))
@settings(max_examples=200, deadline=None)
@example(header="bytes=-0", size=10)
@example(header="bytes=0-", size=0)
@example(header="bytes=-5", size=0)
def test_parse_range_is_none_unsatisfiable_or_inside_the_file(header: str, size: int) -> None:
    try:
        result = parse_range(header, size)
    except Unsatisfiable:
        return
    if result is not None:
        first, last = result
        assert 0 <= first <= last < size


@given(head=st.binary(max_size=80))
@settings(max_examples=200, deadline=None)
def test_sniff_only_ever_refuses_with_not_a_video(head: bytes) -> None:
    try:
        sniff(head)
    except NotAVideo:
        pass


@given(
    signature=st.sampled_from(
        [
            b"\x1a\x45\xdf\xa3",
            b"\x00\x00\x00\x18ftyp",
            b"\x00\x00\x00\x08moov",
            b"OggS",
            b"RIFF\x00\x00\x00\x00AVI ",
        ]
    ),
    cut=st.integers(0, 12),
    tail=st.binary(max_size=40),
)
@settings(max_examples=100, deadline=None)
def test_sniff_of_truncated_signatures_only_refuses_with_not_a_video(
    signature: bytes, cut: int, tail: bytes
) -> None:
    try:
        container = sniff(signature[:cut] + tail)
    except NotAVideo:
        return
    assert container.content_type.startswith("video/")


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.django_db
@given(header=any_header, method=st.sampled_from(["GET", "HEAD"]))
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the video and client are read-only here
)
def test_random_range_headers_never_fail_and_206_is_the_file_slice(
    api: Client, video: Video, header: str, method: str
) -> None:
    with video.file.open("rb") as f:
        stored = f.read()
    assert len(stored) == video.size

    url = f"/api/v1/videos/{video.id}/stream"
    response = api.generic(method, url, headers={"Range": header})
    data = _body(response)

    assert response.status_code in (200, 206, 416), response.status_code
    if response.status_code == 416:
        assert response["Content-Range"] == f"bytes */{video.size}"
        return
    if response.status_code == 200:
        assert response["Content-Length"] == str(video.size)
        assert data == (b"" if method == "HEAD" else stored)
        return
    unit, _, span = response["Content-Range"].partition(" ")
    first, last = (int(n) for n in span.partition("/")[0].split("-"))
    assert unit == "bytes" and span.endswith(f"/{video.size}")
    assert 0 <= first <= last < video.size
    assert response["Content-Length"] == str(last - first + 1)
    assert data == (b"" if method == "HEAD" else stored[first : last + 1])
