"""The /v1/messages passthrough codec: `model` replaced and nothing else, the stream
forwarded at event boundaries and checked (in-band error, truncation, usage)."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import UpstreamError
from proxy.providers.anthropic.passthrough import AnthropicPassthroughPipe, with_model
from proxy.providers.base import StreamLimits


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"model":"a","max_tokens":5}', b'{"model":"claude-x","max_tokens":5}'),
        (b'{ "model" : "a" ,"x":"\\u00e9"}', b'{ "model":"claude-x" ,"x":"\\u00e9"}'),
        # "model" twice (a tool property here): serialized from the parsed body instead
        (
            b'{"model":"a","tools":[{"input_schema":{"properties":{"model":{}}}}]}',
            b'{"model":"claude-x","tools":[{"input_schema":{"properties":{"model":{}}}}]}',
        ),
    ],
)
def test_with_model(raw: bytes, expected: bytes) -> None:
    assert with_model(orjson.loads(raw), raw, "claude-x") == expected


def _event(data: dict[str, object]) -> bytes:
    return b"event: " + str(data["type"]).encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


START = _event(
    {"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}}
)
DELTA = _event(
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}
)
STOP = _event({"type": "message_stop"})


def _pipe() -> AnthropicPassthroughPipe:
    return AnthropicPassthroughPipe("claude", StreamLimits())


def test_bytes_forwarded_at_event_boundaries() -> None:
    pipe = _pipe()
    whole = START + DELTA + STOP
    out = [
        pipe.feed(whole[:10]),
        pipe.feed(whole[10 : len(START) + 5]),
        pipe.feed(whole[len(START) + 5 :]),
    ]
    assert out[0] == b""  # nothing until a whole event
    assert out[1] == START
    assert b"".join(out) + pipe.finish() == whole
    assert pipe.usage is not None and (pipe.usage.prompt, pipe.usage.completion) == (7, 3)


def test_in_band_error_raises() -> None:
    pipe = _pipe()
    pipe.feed(START)
    error = _event(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    with pytest.raises(UpstreamError) as caught:
        pipe.feed(error)
    assert caught.value.outcome == "overloaded"


def test_stream_without_message_stop_is_truncated() -> None:
    pipe = _pipe()
    pipe.feed(START + DELTA)
    with pytest.raises(UpstreamError) as caught:
        pipe.finish()
    assert caught.value.outcome == "upstream_truncated"


def test_event_larger_than_the_bound() -> None:
    pipe = AnthropicPassthroughPipe("claude", StreamLimits(max_event=64))
    with pytest.raises(UpstreamError):
        pipe.feed(b"data: " + b"x" * 100)


def test_lines_without_a_blank_line_are_bounded() -> None:
    pipe = AnthropicPassthroughPipe("claude", StreamLimits(max_event=64))
    with pytest.raises(UpstreamError):
        for _ in range(20):
            pipe.feed(b"data: 0123456789\n")
