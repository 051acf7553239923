"""proxy/providers/anthropic/stream.py: Messages SSE -> chat.completion.chunk, via the pipe too."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from proxy.errors import UpstreamError
from proxy.providers.anthropic import AnthropicStreamTranslator
from proxy.providers.base import CallContext, Usage
from proxy.providers.pipes import TranslatingPipe
from proxy.sse import SSEDecoder, SSEEvent
from tests.providers.anthropic.golden import CASES, CTX, CTX_USAGE, load, sse_bytes, stream_chunks


@pytest.mark.parametrize("case", CASES)
def test_stream_chunks(case: str) -> None:
    assert stream_chunks(case, CTX_USAGE) == load(case, "openai_chunks.json")


@pytest.mark.parametrize("case", CASES)
def test_stream_without_include_usage(case: str) -> None:
    expected = load(case, "openai_chunks.json")
    assert expected[-1]["choices"] == [] and expected[-1]["usage"] is not None
    without = [{k: v for k, v in c.items() if k != "usage"} for c in expected[:-1]]
    assert stream_chunks(case, CTX) == without


@pytest.mark.parametrize("case", CASES)
def test_stream_usage_property(case: str) -> None:
    translator = AnthropicStreamTranslator(CTX, "claude")
    assert translator.usage is None
    decoder = SSEDecoder()
    for event in decoder.feed(sse_bytes(case)) + decoder.flush():
        translator.feed(event)
    usage = load(case, "openai_response.json")["usage"]
    assert translator.usage == Usage(
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["prompt_tokens_details"]["cached_tokens"],
        usage["completion_tokens_details"]["reasoning_tokens"],
    )


def reassemble(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What an OpenAI client builds from a stream: the message, finish reasons, usage."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finishes: list[str] = []
    usage = None
    for chunk in chunks:
        assert chunk["id"] == "chatcmpl-anthropic-test"
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "smart" and chunk["created"] == 1750000000
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"arguments": ""})
                if "id" in call:
                    assert "id" not in slot, "a tool call's header came twice"
                    slot.update(id=call["id"], name=call["function"]["name"])
                slot["arguments"] += call["function"]["arguments"]
            if choice["finish_reason"] is not None:
                finishes.append(choice["finish_reason"])
    assert sorted(calls) == list(range(len(calls))), "tool indexes must be 0, 1, ..."
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "tool_calls": [calls[i] for i in sorted(calls)],
        "finishes": finishes,
        "usage": usage,
    }


@pytest.mark.parametrize("case", CASES)
def test_stream_and_non_stream_agree(case: str) -> None:
    streamed = reassemble(load(case, "openai_chunks.json"))
    response = load(case, "openai_response.json")
    choice = response["choices"][0]
    message = choice["message"]
    assert streamed["finishes"] == [choice["finish_reason"]]  # exactly one finish_reason
    assert streamed["usage"] == response["usage"]
    assert streamed["reasoning"] == message.get("reasoning_content", "")
    if case == "json_schema":
        assert json.loads(streamed["content"]) == json.loads(message["content"])
    else:
        assert streamed["content"] == (message["content"] or "")
    expected_calls = [
        {
            "id": c["id"],
            "name": c["function"]["name"],
            "arguments": json.loads(c["function"]["arguments"]),
        }
        for c in message.get("tool_calls", [])
    ]
    # Streamed arguments concatenate to valid JSON, equal to the non-stream arguments.
    got_calls = [{**c, "arguments": json.loads(c["arguments"])} for c in streamed["tool_calls"]]
    assert got_calls == expected_calls


def pipe_output(case: str, sizes: list[int], ctx: CallContext = CTX_USAGE) -> bytes:
    data = sse_bytes(case)
    pipe = TranslatingPipe(AnthropicStreamTranslator(ctx, "claude"), "claude")
    out = b""
    at = 0
    i = 0
    while at < len(data):
        size = sizes[i % len(sizes)]
        out += pipe.feed(data[at : at + size])
        at += size
        i += 1
    return out + pipe.finish()


@pytest.mark.parametrize("case", CASES)
def test_pipe_output_is_independent_of_byte_splits(case: str) -> None:
    whole = pipe_output(case, [1 << 30])
    assert whole.endswith(b"data: [DONE]\n\n")
    decoder = SSEDecoder()
    events = decoder.feed(whole) + decoder.flush()
    assert [e.json() for e in events[:-1]] == load(case, "openai_chunks.json")
    assert pipe_output(case, [1]) == whole  # every byte alone, UTF-8 sequences cut too
    rng = random.Random(case)
    for _ in range(5):
        assert pipe_output(case, [rng.randint(1, 17) for _ in range(50)]) == whole


def test_pipe_first_output_is_the_role_chunk() -> None:
    data = sse_bytes("text")
    pipe = TranslatingPipe(AnthropicStreamTranslator(CTX, "claude"), "claude")
    first_event_end = data.index(b"\n\n") + 2
    assert pipe.feed(data[: first_event_end - 1]) == b""
    first = pipe.feed(data[first_event_end - 1 : first_event_end])
    (event,) = SSEDecoder().feed(first)
    chunk = event.json()
    assert chunk["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def events_of(case: str) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(sse_bytes(case)) + decoder.flush()


@pytest.mark.parametrize("cut", [0, 1, 3, -2, -1])
def test_truncated_stream_raises_on_finish(cut: int) -> None:
    events = events_of("tools")
    translator = AnthropicStreamTranslator(CTX, "claude")
    for event in events[:cut]:
        translator.feed(event)
    with pytest.raises(UpstreamError) as info:
        translator.finish()
    assert info.value.outcome == "upstream_truncated"
    assert info.value.retryable


def test_truncated_stream_through_pipe() -> None:
    data = sse_bytes("text")
    cut = data.index(b"event: message_stop")
    pipe = TranslatingPipe(AnthropicStreamTranslator(CTX, "claude"), "claude")
    pipe.feed(data[:cut])
    with pytest.raises(UpstreamError) as info:
        pipe.finish()
    assert info.value.outcome == "upstream_truncated"
    # Cut inside an event: the half event is malformed, which is a retryable failure too.
    pipe = TranslatingPipe(AnthropicStreamTranslator(CTX, "claude"), "claude")
    pipe.feed(data[: cut - 20])
    with pytest.raises(UpstreamError) as info:
        pipe.finish()
    assert info.value.retryable


@pytest.mark.parametrize(
    ("kind", "status", "outcome", "retryable"),
    [
        ("overloaded_error", 503, "overloaded", True),
        ("api_error", 502, "server_error", True),
        ("rate_limit_error", 429, "rate_limited", True),
        ("invalid_request_error", 400, "client_error", False),
        ("brand_new_error", 502, "server_error", True),
    ],
)
def test_in_stream_error_event(kind: str, status: int, outcome: str, retryable: bool) -> None:
    translator = AnthropicStreamTranslator(CTX, "claude")
    events = events_of("text")
    translator.feed(events[0])
    error = {"type": "error", "error": {"type": kind, "message": "Overloaded"}}
    with pytest.raises(UpstreamError) as info:
        translator.feed(SSEEvent(json.dumps(error), "error"))
    assert (info.value.status, info.value.outcome) == (status, outcome)
    assert info.value.retryable is retryable
    assert info.value.code == kind
    assert info.value.provider == "claude"


@pytest.mark.parametrize("data", ["not json", "[1]", '{"type": "content_block_delta"}'])
def test_malformed_stream_event(data: str) -> None:
    translator = AnthropicStreamTranslator(CTX, "claude")
    with pytest.raises(UpstreamError) as info:
        translator.feed(SSEEvent(data, "content_block_delta"))
    assert info.value.outcome == "stream_error"


def test_unknown_events_and_blocks_are_ignored() -> None:
    translator = AnthropicStreamTranslator(CTX, "claude")
    events = events_of("text")
    assert translator.feed(events[0])  # role chunk
    assert translator.feed(SSEEvent('{"type": "brand_new_event"}', "brand_new_event")) == []
    start = {
        "type": "content_block_start",
        "index": 5,
        "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"},
    }
    assert translator.feed(SSEEvent(json.dumps(start), "content_block_start")) == []
    assert translator.feed(SSEEvent('{"type":"content_block_stop","index":5}')) == []
