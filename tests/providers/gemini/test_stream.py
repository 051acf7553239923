"""proxy/providers/gemini/stream.py: Gemini SSE -> chat.completion.chunk, also through the pipe."""

from __future__ import annotations

import json
import random

import orjson
import pytest

from proxy.errors import UpstreamError
from proxy.providers.base import CallContext, Usage
from proxy.providers.gemini import GeminiStreamTranslator
from proxy.providers.pipes import TranslatingPipe
from proxy.sse import SSEEvent
from tests.providers.gemini.golden import (
    CTX,
    SUCCESS_CASES,
    aggregate,
    decode_chunks,
    load,
    run_pipe,
    sse_bytes,
    stream_chunks,
)


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_stream_translation(case: str) -> None:
    assert decode_chunks(run_pipe(sse_bytes(case))) == load(case, "openai_chunks.json")


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_stream_in_arbitrary_byte_splits(case: str) -> None:
    raw = sse_bytes(case)
    whole = run_pipe(raw)
    rng = random.Random(case)
    for _ in range(5):
        splits = [rng.randint(1, 7) for _ in range(len(raw) // 3)]
        assert run_pipe(raw, splits) == whole
    assert run_pipe(raw, [1] * len(raw)) == whole


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_stream_and_non_stream_agree(case: str) -> None:
    response = load(case, "openai_response.json")
    streamed, usage = aggregate(load(case, "openai_chunks.json"))
    assert usage == response["usage"]
    assert sorted(streamed) == [c["index"] for c in response["choices"]]
    for choice in response["choices"]:
        state = streamed[choice["index"]]
        message = choice["message"]
        assert state["content"] == (message["content"] or "")
        assert state["reasoning"] == message.get("reasoning_content", "")
        assert state["finish"] == [choice["finish_reason"]]  # exactly one
        calls = [
            {
                "id": c["id"],
                "type": c["type"],
                "name": c["function"]["name"],
                "arguments": c["function"]["arguments"],
            }
            for c in message.get("tool_calls", [])
        ]
        assert [state["tools"][i] for i in sorted(state["tools"])] == calls
        for call in calls:
            json.loads(call["arguments"])


def test_stream_without_finish_reason_is_truncated() -> None:
    raw = sse_bytes("text").rsplit(b"data: ", 1)[0]  # the last event (with finishReason) is lost
    with pytest.raises(UpstreamError) as info:
        run_pipe(raw)
    assert info.value.outcome == "upstream_truncated" and info.value.retryable
    with pytest.raises(UpstreamError):
        run_pipe(b"")
    # n=2: one finished candidate is not enough.
    first = {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]}
    second = {"candidates": [{"content": {"parts": [{"text": "b"}]}, "index": 1}]}
    with pytest.raises(UpstreamError, match="finishReason"):
        stream_chunks([first, second])


def test_stream_error_events_raise() -> None:
    translator = GeminiStreamTranslator(CTX, "gem")
    error = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    with pytest.raises(UpstreamError) as info:
        translator.feed(SSEEvent(orjson.dumps(error).decode()))
    assert info.value.outcome == "rate_limited" and info.value.code == "RESOURCE_EXHAUSTED"
    status_only = {"error": {"message": "boom", "status": "INTERNAL"}}
    with pytest.raises(UpstreamError) as info:
        translator.feed(SSEEvent(orjson.dumps(status_only).decode()))
    assert info.value.upstream_status == 500 and info.value.retryable
    for data in ("not json", "[1]", '{"candidates": [{"content": {"parts": "x"}}]}'):
        with pytest.raises(UpstreamError) as info:
            translator.feed(SSEEvent(data))
        assert info.value.outcome == "malformed_response"


def test_stream_without_include_usage_has_no_usage() -> None:
    ctx = CallContext("flash", "gemini-2.5-flash", "chatcmpl-x", 1, False)
    pipe = TranslatingPipe(GeminiStreamTranslator(ctx, "gem"), "gem")
    chunks = decode_chunks(pipe.feed(sse_bytes("text")) + pipe.finish())
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert pipe.usage == Usage(prompt=9, completion=8)


def test_stream_sends_nothing_after_a_choice_finished() -> None:
    done = {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]}
    late = {"candidates": [{"content": {"parts": [{"text": "late"}]}, "finishReason": "STOP"}]}
    chunks = stream_chunks([done, late])
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes.count("stop") == 1
    assert "late" not in json.dumps(chunks)


def test_stream_usage_is_none_before_any_metadata() -> None:
    assert GeminiStreamTranslator(CTX).usage is None
