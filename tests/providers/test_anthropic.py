"""The Anthropic adapter against golden fixtures (tests/fixtures/anthropic/<case>/), table-driven.

Success cases hold openai_request.json -> anthropic_request.json, and anthropic_response.json /
anthropic_response.sse -> openai_response.json / openai_chunks.json (chunks recorded with
stream_options.include_usage true). Error cases hold anthropic_error.json (status, headers,
body) -> expected_error.json.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from proxy.config import ConfigError, ProviderConfig, Secret
from proxy.errors import QUOTA_COOLDOWN, ProxyError, UpstreamError
from proxy.providers.anthropic import (
    FINISH_REASONS,
    AnthropicAdapter,
    AnthropicStreamTranslator,
    anthropic_error,
    from_anthropic_response,
    to_anthropic_request,
)
from proxy.providers.anthropic.request import RequestOptions
from proxy.providers.base import CallContext, Usage
from proxy.providers.pipes import TranslatingPipe
from proxy.request import parse_chat_request
from proxy.sse import SSEDecoder, SSEEvent

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"
CASES = sorted(p.name for p in FIXTURES.iterdir() if not p.name.startswith("error_"))
ERROR_CASES = sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith("error_"))
KEY = "sk-ant-api03-secret-test-key"

CTX = CallContext("smart", "claude-sonnet-4-5", "chatcmpl-anthropic-test", 1750000000, False)
CTX_USAGE = CallContext("smart", "claude-sonnet-4-5", "chatcmpl-anthropic-test", 1750000000, True)


def load(case: str, name: str) -> Any:
    return json.loads((FIXTURES / case / name).read_text())


def sse_bytes(case: str) -> bytes:
    return (FIXTURES / case / "anthropic_response.sse").read_bytes()


def provider(drop_unsupported: bool = False, **options: Any) -> ProviderConfig:
    return ProviderConfig(
        name="claude",
        type="anthropic",
        base_url="https://api.anthropic.com",
        api_key=Secret(KEY),
        drop_unsupported=drop_unsupported,
        options=MappingProxyType(options),
    )


def translate_stream(case: str, ctx: CallContext) -> list[dict[str, Any]]:
    translator = AnthropicStreamTranslator(ctx, "claude")
    decoder = SSEDecoder()
    chunks: list[dict[str, Any]] = []
    for event in decoder.feed(sse_bytes(case)) + decoder.flush():
        chunks.extend(translator.feed(event))
    return chunks + translator.finish()


def test_fixture_set_is_complete() -> None:
    assert set(CASES) >= {
        "text",
        "system",
        "multi_turn",
        "image",
        "tools",
        "parallel_tools",
        "tool_result_round_trip",
        "tool_choice_required",
        "json_schema",
        "thinking",
        "max_tokens",
        "stop_sequence",
        "refusal",
        "usage_cache",
    }
    assert {f"error_{s}" for s in (400, 401, 403, 404, 413, 429, 500, 529)} <= set(ERROR_CASES)


# --- the fixtures themselves speak the real wire formats -------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_fixture_shapes_match_the_sdks(case: str) -> None:
    Message.model_validate(load(case, "anthropic_response.json"))
    events = TypeAdapter(RawMessageStreamEvent)
    decoder = SSEDecoder()
    for event in decoder.feed(sse_bytes(case)) + decoder.flush():
        assert event.event == event.json()["type"]
        if event.event != "ping":
            events.validate_python(event.json())
    ChatCompletion.model_validate(load(case, "openai_response.json"))
    for chunk in load(case, "openai_chunks.json"):
        ChatCompletionChunk.model_validate(chunk)


# --- request ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_expected_requests_pass_the_apis_checks(case: str) -> None:
    from tests.fakes.anthropic import request_problem

    body = load(case, "anthropic_request.json")
    assert request_problem(body) is None
    assert request_problem({**body, "stream": True}) is None


@pytest.mark.parametrize("case", CASES)
def test_request(case: str) -> None:
    assert to_anthropic_request(load(case, "openai_request.json"), CTX) == load(
        case, "anthropic_request.json"
    )


@pytest.mark.parametrize("case", CASES)
def test_stream_request_sets_stream(case: str) -> None:
    body = {**load(case, "openai_request.json"), "stream": True}
    body["stream_options"] = {"include_usage": True}
    expected = {**load(case, "anthropic_request.json"), "stream": True}
    assert to_anthropic_request(body, CTX_USAGE) == expected


@pytest.mark.parametrize("case", CASES)
def test_build_request(case: str) -> None:
    adapter = AnthropicAdapter("claude", provider())
    req = parse_chat_request(orjson.dumps(load(case, "openai_request.json")))
    upstream = adapter.build_request(req, CTX)
    assert upstream.url == "https://api.anthropic.com/v1/messages"
    assert upstream.stream is False
    assert orjson.loads(upstream.body) == load(case, "anthropic_request.json")
    assert upstream.headers == {
        "x-api-key": KEY,
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
        "accept-encoding": "identity",
    }


# --- response --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_response(case: str) -> None:
    expected = load(case, "openai_response.json")
    assert from_anthropic_response(load(case, "anthropic_response.json"), CTX) == expected
    adapter = AnthropicAdapter("claude", provider())
    reply = adapter.parse_response((FIXTURES / case / "anthropic_response.json").read_bytes(), CTX)
    assert orjson.loads(reply.body) == expected
    usage = expected["usage"]
    assert reply.usage == Usage(
        prompt=usage["prompt_tokens"],
        completion=usage["completion_tokens"],
        cached=usage["prompt_tokens_details"]["cached_tokens"],
        reasoning=usage["completion_tokens_details"]["reasoning_tokens"],
    )


def test_finish_reasons_cover_every_anthropic_stop_reason() -> None:
    from anthropic.types import StopReason

    assert set(FINISH_REASONS) == set(StopReason.__args__)  # type: ignore[attr-defined]
    assert set(FINISH_REASONS.values()) <= {"stop", "length", "tool_calls", "content_filter"}


def test_unknown_stop_reason_is_stop() -> None:
    message = {**load("text", "anthropic_response.json"), "stop_reason": "something_new"}
    assert from_anthropic_response(message, CTX)["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1, 2]", b'{"type": "message"}', b'{"type": "error", "error": {}}'],
)
def test_malformed_response(payload: bytes) -> None:
    adapter = AnthropicAdapter("claude", provider())
    with pytest.raises(UpstreamError) as info:
        adapter.parse_response(payload, CTX)
    assert info.value.outcome == "malformed_response"
    assert info.value.retryable


def test_malformed_content_block() -> None:
    message = {**load("text", "anthropic_response.json"), "content": [{"type": "text"}]}
    with pytest.raises(UpstreamError) as info:
        from_anthropic_response(message, CTX, "claude")
    assert info.value.outcome == "malformed_response"
    assert "content[0].text" in info.value.message


# --- stream ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_stream_chunks(case: str) -> None:
    assert translate_stream(case, CTX_USAGE) == load(case, "openai_chunks.json")


@pytest.mark.parametrize("case", CASES)
def test_stream_without_include_usage(case: str) -> None:
    expected = load(case, "openai_chunks.json")
    assert expected[-1]["choices"] == [] and expected[-1]["usage"] is not None
    without = [{k: v for k, v in c.items() if k != "usage"} for c in expected[:-1]]
    assert translate_stream(case, CTX) == without


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
    frames = whole.split(b"\n\n")[:-2]
    assert [orjson.loads(f.removeprefix(b"data: ")) for f in frames] == load(
        case, "openai_chunks.json"
    )
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
    chunk = orjson.loads(first.removeprefix(b"data: "))
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


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_mapping(case: str) -> None:
    upstream = load(case, "anthropic_error.json")
    adapter = AnthropicAdapter("claude", provider())
    error = adapter.parse_error(
        upstream["status"], upstream["headers"], orjson.dumps(upstream["body"])
    )
    expected = load(case, "expected_error.json")
    got = {key: getattr(error, key) for key in expected}
    assert got == expected
    assert error.provider == "claude"
    assert KEY not in error.message


@pytest.mark.parametrize("status", [400, 413, 429, 500, 502, 529])
@pytest.mark.parametrize(
    "payload",
    [
        b"<html><body><h1>502 Bad Gateway</h1>\x00\x1b[31m</body></html>",
        b"",
        b"\xff\xfe garbage",
        b"x" * 100_000,
        b'{"error": "just a string"}',
        b'{"type": "error", "error": {"type": 7, "message": null}}',
        b"[]",
    ],
)
def test_odd_error_bodies_never_crash(status: int, payload: bytes) -> None:
    error = anthropic_error("claude", status, {}, payload, (KEY,))
    assert isinstance(error, ProxyError)
    assert error.upstream_status == status
    assert len(error.message) < 300
    assert all(c.isprintable() for c in error.message)


def test_error_body_never_echoes_the_key() -> None:
    adapter = AnthropicAdapter("claude", provider())
    html = f"<pre>bad header x-api-key: {KEY} rejected</pre>".encode()
    assert KEY not in adapter.parse_error(502, {}, html).message
    assert KEY[:20] not in adapter.parse_error(502, {}, html).message
    body = {"type": "error", "error": {"type": "authentication_error", "message": f"bad {KEY}"}}
    assert KEY not in adapter.parse_error(401, {}, orjson.dumps(body)).message
    long_html = b"<p>" + b"a" * 110 + KEY.encode() + b"</p>"
    message = adapter.parse_error(500, {}, long_html).message
    assert KEY[:10] not in message


def test_non_json_error_message_is_short_and_generic() -> None:
    error = anthropic_error("claude", 502, {}, b"<html>" + b"<p>bad gateway</p>" * 100, ())
    assert "not JSON" in error.message
    assert error.code is None
    assert error.retryable


def test_spend_limit_detected_by_message() -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "Spend limit hit."}}
    error = anthropic_error("claude", 429, {"retry-after": "30"}, orjson.dumps(body))
    assert error.retry_after == QUOTA_COOLDOWN  # a spent budget: the longest cooldown
    plain = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down."}}
    assert (
        anthropic_error("claude", 429, {"retry-after": "30"}, orjson.dumps(plain)).retry_after == 30
    )


# --- unsupported parameters ------------------------------------------------------------------

BASE = {"model": "smart", "messages": [{"role": "user", "content": "Hi"}]}
UNSUPPORTED = [
    ("n", 2),
    ("logprobs", True),
    ("top_logprobs", 3),
    ("logit_bias", {"50256": -100}),
    ("presence_penalty", 0.5),
    ("frequency_penalty", -0.5),
    ("seed", 42),
    ("audio", {"voice": "alloy", "format": "wav"}),
    ("modalities", ["text", "audio"]),
    ("prediction", {"type": "content", "content": "x"}),
    ("web_search_options", {}),
    ("functions", [{"name": "f", "parameters": {"type": "object"}}]),
    ("function_call", "auto"),
    ("some_unknown_parameter", 1),
]


@pytest.mark.parametrize(("param", "value"), UNSUPPORTED)
def test_unsupported_parameter_is_a_400(param: str, value: Any) -> None:
    with pytest.raises(ProxyError) as info:
        to_anthropic_request({**BASE, param: value}, CTX, RequestOptions("claude"))
    error = info.value
    assert (error.status, error.type, error.param) == (400, "invalid_request_error", param)
    assert error.code == "unsupported_parameter"
    assert f"'{param}'" in error.message and "'claude'" in error.message
    assert "drop_unsupported" in error.message


@pytest.mark.parametrize(("param", "value"), UNSUPPORTED)
def test_drop_unsupported(param: str, value: Any) -> None:
    adapter = AnthropicAdapter("claude", provider(drop_unsupported=True))
    req = parse_chat_request(orjson.dumps({**BASE, param: value}))
    body = orjson.loads(adapter.build_request(req, CTX).body)
    assert body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n", 1),
        ("logprobs", False),
        ("top_logprobs", 0),
        ("logit_bias", {}),
        ("presence_penalty", 0),
        ("frequency_penalty", 0.0),
        ("modalities", ["text"]),
        ("seed", None),
        ("store", True),
        ("metadata", {"a": "b"}),
        ("service_tier", "auto"),
        ("stream_options", {"include_usage": True}),
        ("prompt_cache_key", "k"),
        ("verbosity", "low"),
    ],
)
def test_harmless_parameters_are_dropped_silently(param: str, value: Any) -> None:
    body = to_anthropic_request({**BASE, param: value}, CTX)
    assert body == to_anthropic_request(BASE, CTX)


# --- request details -------------------------------------------------------------------------


def translate(**fields: Any) -> dict[str, Any]:
    return dict(to_anthropic_request({**BASE, **fields}, CTX, RequestOptions("claude")))


def rejected(**fields: Any) -> ProxyError:
    with pytest.raises(ProxyError) as info:
        translate(**fields)
    assert info.value.status == 400
    return info.value


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", None),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    assert translate(tools=[TOOL], tool_choice=choice).get("tool_choice") == expected


def test_parallel_tool_calls_false_with_named_and_none_choice() -> None:
    named = {"type": "function", "function": {"name": "f"}}
    assert translate(tools=[TOOL], tool_choice=named, parallel_tool_calls=False)["tool_choice"] == {
        "type": "tool",
        "name": "f",
        "disable_parallel_tool_use": True,
    }
    choice = translate(tools=[TOOL], tool_choice="none", parallel_tool_calls=False)["tool_choice"]
    assert choice == {"type": "none"}


def test_tool_choice_without_tools_is_ignored() -> None:
    assert translate(tool_choice="required", parallel_tool_calls=False) == translate()


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tools = translate(tools=[{"type": "function", "function": {"name": "ping"}}])["tools"]
    assert tools == [{"name": "ping", "input_schema": {"type": "object", "properties": {}}}]


def test_bad_tool_choice_and_tool_types() -> None:
    assert rejected(tools=[TOOL], tool_choice={"type": "allowed_tools"}).param == "tool_choice"
    assert rejected(tools=[TOOL], tool_choice={"type": "function"}).param == "tool_choice"
    custom = {"type": "custom", "custom": {"name": "grammar"}}
    assert rejected(tools=[custom]).param == "tools[0].type"


def test_json_object_mode() -> None:
    body = translate(response_format={"type": "json_object"})
    assert body["tools"][0]["name"] == "respond_with_json"
    assert body["tools"][0]["input_schema"] == {"type": "object", "additionalProperties": True}
    assert body["tool_choice"] == {"type": "tool", "name": "respond_with_json"}


def test_text_response_format_changes_nothing() -> None:
    assert translate(response_format={"type": "text"}) == translate()


def test_json_mode_with_client_tools_forces_some_tool() -> None:
    body = translate(tools=[TOOL], response_format={"type": "json_object"})
    assert [t["name"] for t in body["tools"]] == ["f", "respond_with_json"]
    assert body["tool_choice"] == {"type": "any"}
    none = translate(tools=[TOOL], tool_choice="none", response_format={"type": "json_object"})
    assert none["tool_choice"] == {"type": "tool", "name": "respond_with_json"}
    named = {"type": "function", "function": {"name": "f"}}
    body = translate(tools=[TOOL], tool_choice=named, response_format={"type": "json_object"})
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    bad = {"type": "allowed_tools"}
    assert (
        rejected(tools=[TOOL], tool_choice=bad, response_format={"type": "json_object"}).param
        == "tool_choice"
    )


def test_json_tool_name_is_reserved() -> None:
    tool = {"type": "function", "function": {"name": "respond_with_json"}}
    assert rejected(tools=[tool]).param == "tools[0].function.name"


def test_json_mode_with_reasoning_is_a_400() -> None:
    error = rejected(response_format={"type": "json_object"}, reasoning_effort="low")
    assert error.param == "response_format"


def test_json_answer_with_client_tool_calls_keeps_both() -> None:
    message = load("tools", "anthropic_response.json")
    message["content"].append(
        {"type": "tool_use", "id": "toolu_x", "name": "respond_with_json", "input": {"a": 1}}
    )
    choice = from_anthropic_response(message, CTX)["choices"][0]
    assert choice["message"]["content"] == '{"a":1}'
    assert [c["id"] for c in choice["message"]["tool_calls"]] == ["toolu_01WeatherParis"]
    assert choice["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("fields", "max_tokens", "budget"),
    [
        ({"reasoning_effort": "low"}, 4096 + 2048, 2048),
        ({"reasoning_effort": "high", "max_tokens": 3000}, 3000, 2999),
        ({"reasoning_effort": "minimal", "max_completion_tokens": 1025}, 1025, 1024),
        ({"reasoning_effort": "none", "max_tokens": 10}, 10, None),
    ],
)
def test_reasoning_budget_stays_below_max_tokens(
    fields: dict[str, Any], max_tokens: int, budget: int | None
) -> None:
    body = translate(**fields)
    assert body["max_tokens"] == max_tokens
    assert body.get("thinking") == (budget and {"type": "enabled", "budget_tokens": budget})


def test_reasoning_with_too_small_max_tokens_is_a_400() -> None:
    error = rejected(reasoning_effort="low", max_completion_tokens=1024)
    assert error.param == "max_completion_tokens"
    assert "1024" in error.message and "reasoning_effort" in error.message
    assert rejected(reasoning_effort="extreme").param == "reasoning_effort"


def test_default_max_tokens_option() -> None:
    adapter = AnthropicAdapter("claude", provider(default_max_tokens=1000))
    req = parse_chat_request(orjson.dumps(BASE))
    assert orjson.loads(adapter.build_request(req, CTX).body)["max_tokens"] == 1000


def test_temperature_above_anthropic_range_is_a_400_not_a_clamp() -> None:
    assert translate(temperature=1)["temperature"] == 1
    assert rejected(temperature=1.5).param == "temperature"


def test_stop_string_and_user_fields() -> None:
    assert translate(stop="END")["stop_sequences"] == ["END"]
    assert "stop_sequences" not in translate(stop=[])
    assert translate(user="u1")["metadata"] == {"user_id": "u1"}
    assert translate(user="u1", safety_identifier="s1")["metadata"] == {"user_id": "s1"}


def user_content(*parts: Any) -> list[Any]:
    return translate(messages=[{"role": "user", "content": list(parts)}])["messages"][0]["content"]


def test_pdf_file_part_becomes_a_document() -> None:
    part = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
    }
    assert user_content(part) == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        }
    ]
    with pytest.raises(ProxyError) as info:
        user_content({"type": "file", "file": {"file_id": "file-abc"}})
    assert info.value.code == "unsupported_parameter"


@pytest.mark.parametrize(
    "url",
    [
        "data:image/tiff;base64,AAAA",
        "data:image/png,rawbytes",
        "data:image/png;base64,",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
    ],
)
def test_bad_image_urls_are_a_400(url: str) -> None:
    with pytest.raises(ProxyError) as info:
        user_content({"type": "image_url", "image_url": {"url": url}})
    assert info.value.status == 400
    assert info.value.param == "messages[0].content[0].image_url.url"


def test_image_data_url_with_extra_parameters() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/jpeg;name=a.jpg;base64,/9j/"}}
    assert user_content(part)[0]["source"] == {
        "type": "base64",
        "media_type": "image/jpeg",
        "data": "/9j/",
    }


def test_input_audio_part() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}
    with pytest.raises(ProxyError) as info:
        user_content(part)
    assert info.value.param == "messages[0].content[0].input_audio"
    body = to_anthropic_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, part]}],
        },
        CTX,
        RequestOptions("claude", drop_unsupported=True),
    )
    assert body["messages"][0]["content"] == [{"type": "text", "text": "x"}]


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "function", "name": "f", "content": "x"}, "messages[1].role"),
        ({"role": "tool", "content": "x"}, "messages[1].tool_call_id"),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{bad"}}
                ],
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                ],
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            "messages[1].content[0].type",
        ),
        ({"role": "user", "content": [{"type": "video"}]}, "messages[1].content[0].type"),
        ({"role": "user", "content": ["plain string part"]}, "messages[1].content[0]"),
    ],
)
def test_bad_messages_are_a_400(message: dict[str, Any], param: str) -> None:
    error = rejected(messages=[{"role": "user", "content": "Hi"}, message])
    assert error.param == param


def test_empty_arguments_and_empty_messages() -> None:
    body = translate(
        messages=[
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": ""},
            {"role": "user", "content": ""},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        ]
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "No."}]},
    ]


def test_translation_does_not_mutate_the_body() -> None:
    body = load("tool_result_round_trip", "openai_request.json")
    before = json.dumps(body, sort_keys=True)
    to_anthropic_request(body, CTX)
    assert json.dumps(body, sort_keys=True) == before


# --- adapter ---------------------------------------------------------------------------------


def test_adapter_basics() -> None:
    adapter = AnthropicAdapter("claude", provider(anthropic_version="2024-01-01"))
    req = parse_chat_request(orjson.dumps({**BASE, "stream": True}))
    upstream = adapter.build_request(req, CTX)
    assert upstream.stream is True
    assert orjson.loads(upstream.body)["stream"] is True
    assert upstream.headers["anthropic-version"] == "2024-01-01"
    assert "authorization" not in upstream.headers
    assert isinstance(adapter.stream_pipe(CTX), TranslatingPipe)


def test_base_url_with_v1_suffix() -> None:
    config = ProviderConfig(
        name="claude",
        type="anthropic",
        base_url="https://gw.example/anthropic/v1",
        api_key=Secret(KEY),
    )
    adapter = AnthropicAdapter("claude", config)
    upstream = adapter.build_request(parse_chat_request(orjson.dumps(BASE)), CTX)
    assert upstream.url == "https://gw.example/anthropic/v1/messages"


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"max_token": 5}, "providers.claude.options.max_token"),
        ({"default_max_tokens": "many"}, "providers.claude.options.default_max_tokens"),
        ({"default_max_tokens": 0}, "providers.claude.options.default_max_tokens"),
        ({"anthropic_version": 2023}, "providers.claude.options.anthropic_version"),
    ],
)
def test_bad_options_fail_at_startup(options: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        AnthropicAdapter("claude", provider(**options))
    assert str(info.value).startswith(path)


def test_registered() -> None:
    from proxy.providers import ADAPTERS

    assert ADAPTERS["anthropic"] is AnthropicAdapter
