"""Stream pipes: bounds and what reaches the client before a failure (issue 10.11, 10.12,
16.8). The event bound is server.max_response_bytes; the pre-commit bound is
server.max_precommit_bytes (both arrive in StreamLimits)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.errors import UpstreamError
from proxy.providers.anthropic import AnthropicStreamTranslator
from proxy.providers.base import CallContext, StreamLimits
from proxy.providers.pipes import FailedAfter, PassthroughPipe, TranslatingPipe

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
ERROR = b'data: {"error": {"message": "boom"}}\n\n'
SMALL = StreamLimits(max_event=1000, max_precommit=500)


def test_comments_before_the_first_data_event_are_bounded() -> None:
    pipe = PassthroughPipe("p", SMALL)
    with pytest.raises(UpstreamError) as info:
        for _ in range(100):
            pipe.feed(b": ping\n\n")
    assert info.value.outcome == "stream_error" and info.value.retryable


def test_comments_within_the_bound_are_sent_with_the_first_data_event() -> None:
    pipe = PassthroughPipe("p", SMALL)
    assert pipe.feed(b": ping\n\n" * 10) == b""
    assert pipe.feed(CHUNK) == b": ping\n\n" * 10 + CHUNK


@pytest.mark.parametrize("read", [7, 100, 5000])
def test_an_event_over_the_bound_fails_in_any_split(read: int) -> None:
    pipe = PassthroughPipe("p", SMALL)
    pipe.feed(CHUNK)
    big = b'data: {"x": "' + b"y" * 2000 + b'"}\n\n'
    with pytest.raises(UpstreamError) as info:
        for i in range(0, len(big), read):
            pipe.feed(big[i : i + read])
    assert info.value.outcome == "stream_error"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_good_events_before_an_in_band_error_in_one_read_are_kept(eol: bytes) -> None:
    pipe = PassthroughPipe("p")
    assert pipe.feed(CHUNK.replace(b"\n", eol)) == CHUNK.replace(b"\n", eol)
    with pytest.raises(FailedAfter) as info:
        pipe.feed((CHUNK + CHUNK + ERROR + CHUNK).replace(b"\n", eol))
    assert info.value.before.replace(b"\r\n", b"\n") == CHUNK + CHUNK
    assert info.value.outcome == "stream_error"


def test_an_error_in_the_first_read_still_falls_back_whole() -> None:
    pipe = PassthroughPipe("p")
    with pytest.raises(UpstreamError) as info:
        pipe.feed(CHUNK + ERROR)
    assert not isinstance(info.value, FailedAfter)


@pytest.mark.parametrize(
    "usage",
    [b'{"prompt_tokens":"abc"}', b'{"prompt_tokens_details":[1]}', b"[1]", b'{"prompt_tokens":-1}'],
)
def test_malformed_usage_is_a_malformed_response(usage: bytes) -> None:
    pipe = PassthroughPipe("p")
    pipe.feed(CHUNK)
    with pytest.raises(UpstreamError) as info:
        pipe.feed(b'data: {"choices":[],"usage":' + usage + b"}\n\n")
    assert info.value.outcome == "malformed_response"


CTX = CallContext("smart", "claude-sonnet-4-5", "chatcmpl-1", 1750000000, False)
FIXTURE = Path(__file__).parent.parent / "fixtures" / "anthropic" / "text"


def test_translated_chunks_before_an_in_band_error_are_kept() -> None:
    """Same rule for translated streams: Anthropic's `event: error` after text, one read."""
    transcript = (FIXTURE / "anthropic_response.sse").read_bytes()
    events = transcript.split(b"\n\n")
    pipe = TranslatingPipe(AnthropicStreamTranslator(CTX, "claude"), "claude")
    head = b"\n\n".join(events[:3]) + b"\n\n"  # message_start, block start, first delta
    assert pipe.feed(head)
    delta = next(e for e in events[3:] if b"content_block_delta" in e) + b"\n\n"
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"x"}}\n\n'
    with pytest.raises(FailedAfter) as info:
        pipe.feed(delta + error)
    chunk = orjson.loads(info.value.before.removeprefix(b"data: "))
    assert chunk["choices"][0]["delta"]["content"]
