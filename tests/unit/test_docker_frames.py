"""The Docker attach stream is cut into frames and lines the same however the bytes arrive."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from adapters.docker.frames import STDERR, STDOUT, FrameSplitter


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_stdout_and_stderr_lines_come_apart_in_order() -> None:
    splitter = FrameSplitter()
    data = frame(STDOUT, b"one\ntw") + frame(STDERR, b"oops\n") + frame(STDOUT, b"o\nthree")
    assert splitter.feed(data) == [("out", "one"), ("err", "oops"), ("out", "two")]
    assert splitter.rest() == [("out", "three")]


def test_a_line_broken_inside_a_utf8_character_is_whole_when_joined() -> None:
    text = "naïve ✓\n".encode()
    splitter = FrameSplitter()
    assert splitter.feed(frame(STDOUT, text[:3])) == []
    assert splitter.feed(frame(STDOUT, text[3:])) == [("out", "naïve ✓")]


@given(
    frames=st.lists(
        st.tuples(st.sampled_from([STDOUT, STDERR]), st.binary(max_size=40).map(lambda b: b + b"\n")),
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_any_chunking_of_the_stream_yields_the_same_lines(
    frames: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    data = b"".join(frame(stream, payload) for stream, payload in frames)
    whole = FrameSplitter().feed(data)
    splitter, got, start = FrameSplitter(), [], 0
    for cut in sorted({c for c in cuts if c < len(data)}):
        got += splitter.feed(data[start:cut])
        start = cut
    got += splitter.feed(data[start:])
    assert got == whole
    per_stream = [
        (("err" if s == STDERR else "out"), line) for s, p in frames for line in p.split(b"\n")[:-1]
    ]
    assert [(t, line.encode("utf-8", "replace")) for t, line in got] == [
        (t, line.decode("utf-8", "replace").encode("utf-8", "replace")) for t, line in per_stream
    ]
    assert splitter.rest() == []
