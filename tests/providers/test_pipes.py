"""The passthrough pipe: bytes untouched, first-event gate, truncation detection."""

from __future__ import annotations

import pytest

from proxy.errors import UpstreamError
from proxy.providers.base import StreamLimits
from proxy.providers.pipes import PassthroughPipe

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
USAGE = (
    b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
)
STREAM = b": ping\n\n" + CHUNK + CHUNK + USAGE + b"data: [DONE]\n\n"


@pytest.mark.parametrize("split", [1, 5, 64, 10_000])
def test_bytes_pass_untouched_in_any_split(split: int) -> None:
    pipe = PassthroughPipe("p")
    out = b"".join(pipe.feed(STREAM[i : i + split]) for i in range(0, len(STREAM), split))
    out += pipe.finish()
    assert out == STREAM
    assert pipe.usage is not None and pipe.usage.completion == 2


def test_nothing_is_sent_before_the_first_data_event() -> None:
    pipe = PassthroughPipe("p")
    assert pipe.feed(b": ping\n\n") == b""
    assert pipe.feed(CHUNK[:10]) == b""
    assert pipe.feed(CHUNK[10:]) == b": ping\n\n" + CHUNK


def test_first_event_error_raises_before_commit() -> None:
    pipe = PassthroughPipe("p")
    with pytest.raises(UpstreamError) as info:
        pipe.feed(b'data: {"error": {"message": "overloaded"}}\n\n')
    assert info.value.retryable and info.value.outcome == "stream_error"


@pytest.mark.parametrize(
    ("stream", "outcome"),
    [
        (CHUNK + CHUNK, "upstream_truncated"),
        (CHUNK + CHUNK[:20], "upstream_truncated"),
        (CHUNK + b'data: {"error": {"message": "x"}}\n\n', "stream_error"),
        (CHUNK + b"data: {not json\n\n", "stream_error"),
        (CHUNK + b"data: " + b"x" * (2 << 20) + b"\n\n", "stream_error"),
        (CHUNK + b"data: " + b"x" * (2 << 20), "stream_error"),
    ],
)
def test_broken_streams_raise(stream: bytes, outcome: str) -> None:
    pipe = PassthroughPipe("p", StreamLimits(max_event=1 << 20))  # the event bound is config
    with pytest.raises(UpstreamError) as info:
        pipe.feed(stream)
        pipe.finish()
    assert info.value.outcome == outcome


def test_only_whole_events_are_forwarded() -> None:
    pipe = PassthroughPipe("p")
    assert pipe.feed(CHUNK + CHUNK[:20]) == CHUNK
    assert pipe.feed(CHUNK[20:]) == CHUNK


@pytest.mark.parametrize("eol", [b"\r", b"\r\n"])
@pytest.mark.parametrize("split", [1, 7, 10_000])
def test_other_line_endings_pass_untouched(eol: bytes, split: int) -> None:
    data = STREAM.replace(b"\n", eol)
    pipe = PassthroughPipe("p")
    out = b"".join(pipe.feed(data[i : i + split]) for i in range(0, len(data), split))
    assert out + pipe.finish() == data


def test_crlf_done_is_recognised() -> None:
    pipe = PassthroughPipe("p")
    data = (CHUNK + b"data: [DONE]\n\n").replace(b"\n", b"\r\n")
    assert pipe.feed(data) + pipe.finish() == data
