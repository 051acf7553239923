"""The Gemini adapter: golden fixtures (tests/fixtures/gemini/<case>/), parity, and edge rules."""

from __future__ import annotations

import copy
import json
import logging
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.config import ConfigError, ProviderConfig, Secret
from proxy.errors import ProxyError, UpstreamError
from proxy.providers.base import CallContext, Usage
from proxy.providers.gemini import (
    FINISH_REASONS,
    GeminiAdapter,
    GeminiStreamTranslator,
    from_gemini_response,
    gemini_error,
    to_gemini_request,
)
from proxy.providers.gemini.ids import split_tool_call_id, tool_call_id
from proxy.providers.gemini.request import RequestOptions
from proxy.providers.gemini.schema import (
    MAX_INLINED_REFS,
    SchemaTooLarge,
    is_empty_object,
    sanitize_schema,
)
from proxy.providers.pipes import TranslatingPipe
from proxy.request import parse_chat_request
from proxy.sse import DONE, SSEDecoder, SSEEvent

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"
SUCCESS_CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "openai_request.json").exists())
ERROR_CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "gemini_error.json").exists())
CTX = CallContext(
    public_model="flash",
    upstream_model="gemini-2.5-flash",
    response_id="chatcmpl-gemini-test-0001",
    created=1700000000,
    include_usage=True,
)
KEY = "AIzaSyD-fake-gemini-key-0123456789abcdef"
OPTIONS = RequestOptions(provider="gem")


def load(case: str, name: str) -> Any:
    return json.loads((FIXTURES / case / name).read_text(encoding="utf-8"))


def case_options(case: str) -> RequestOptions:
    path = FIXTURES / case / "case.json"
    extra = json.loads(path.read_text()) if path.exists() else {}
    return RequestOptions(provider="gem", **extra)


def sse_bytes(case: str) -> bytes:
    return (FIXTURES / case / "gemini_response.sse").read_bytes()


def provider_config(**overrides: Any) -> ProviderConfig:
    settings: dict[str, Any] = {
        "name": "gem",
        "type": "gemini",
        "base_url": "https://generativelanguage.googleapis.com",
        "api_key": Secret(KEY),
    }
    settings.update(overrides)
    return ProviderConfig(**settings)


def decode_chunks(raw: bytes) -> list[Any]:
    assert raw.endswith(DONE)
    events = SSEDecoder().feed(raw[: -len(DONE)])
    return [e.json() for e in events]


def run_pipe(raw: bytes, splits: list[int] | None = None, ctx: CallContext = CTX) -> bytes:
    pipe = TranslatingPipe(GeminiStreamTranslator(ctx, "gem"), "gem")
    out = b""
    start = 0
    for size in splits or [len(raw)]:
        out += pipe.feed(raw[start : start + size])
        start += size
    out += pipe.feed(raw[start:])
    return out + pipe.finish()


def stream_chunks(events: list[dict[str, Any]], ctx: CallContext = CTX) -> list[Any]:
    translator = GeminiStreamTranslator(ctx, "gem")
    chunks: list[Any] = []
    for event in events:
        chunks.extend(translator.feed(SSEEvent(orjson.dumps(event).decode())))
    return chunks + translator.finish()


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "flash", "messages": [{"role": "user", "content": "hi"}], **fields}


# --- golden fixtures -----------------------------------------------------------------------


def test_fixture_cases_are_all_there() -> None:
    expected = {
        "text",
        "system",
        "multi_turn",
        "image",
        "tools",
        "parallel_tools",
        "tool_result_round_trip",
        "thought_signature",
        "json_schema",
        "thinking",
        "max_tokens",
        "safety",
        "prompt_blocked",
        "n_candidates",
        "usage_cache",
    }
    assert expected <= set(SUCCESS_CASES)
    assert {f"error_{s}" for s in (400, 403, 404, 429, 500, 503, 504)} <= set(ERROR_CASES)


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_request_translation(case: str) -> None:
    request = load(case, "openai_request.json")
    parse_chat_request(orjson.dumps(request))  # the fixture is a request the proxy accepts
    before = copy.deepcopy(request)
    assert to_gemini_request(request, case_options(case)) == load(case, "gemini_request.json")
    assert request == before  # the client's body is never mutated


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_response_translation(case: str) -> None:
    expected = load(case, "openai_response.json")
    assert from_gemini_response(load(case, "gemini_response.json"), CTX) == expected


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


def _aggregate(chunks: list[Any]) -> tuple[dict[int, dict[str, Any]], Any]:
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            state = choices.setdefault(
                choice["index"], {"content": "", "reasoning": "", "tools": {}, "finish": []}
            )
            delta = choice["delta"]
            state["content"] += delta.get("content") or ""
            state["reasoning"] += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or ():
                slot = state["tools"].setdefault(call["index"], {"arguments": ""})
                slot.update({k: call[k] for k in ("id", "type") if k in call})
                slot["name"] = call["function"].get("name") or slot.get("name")
                slot["arguments"] += call["function"].get("arguments") or ""
            if choice["finish_reason"] is not None:
                state["finish"].append(choice["finish_reason"])
    return choices, usage


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_stream_and_non_stream_agree(case: str) -> None:
    response = load(case, "openai_response.json")
    streamed, usage = _aggregate(load(case, "openai_chunks.json"))
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


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_translation(case: str) -> None:
    setup = load(case, "case.json")
    payload = (FIXTURES / case / "gemini_error.json").read_bytes()
    adapter = GeminiAdapter("gem", provider_config())
    error = adapter.parse_error(setup["status"], setup["headers"], payload)
    expected = load(case, "expected.json")
    assert {key: getattr(error, key) for key in expected} == expected
    assert isinstance(error, UpstreamError)


# --- the adapter -------------------------------------------------------------------------


def test_build_request_uses_native_endpoints_and_header_key() -> None:
    adapter = GeminiAdapter("gem", provider_config())
    req = parse_chat_request(orjson.dumps(body()))
    upstream = adapter.build_request(req, CTX)
    assert upstream.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert upstream.stream is False
    assert upstream.headers["x-goog-api-key"] == KEY
    assert upstream.headers["content-type"] == "application/json"
    assert upstream.headers["accept-encoding"] == "identity"
    assert "key=" not in upstream.url and KEY not in upstream.url
    assert orjson.loads(upstream.body) == to_gemini_request(body(), OPTIONS)

    streamed = adapter.build_request(parse_chat_request(orjson.dumps(body(stream=True))), CTX)
    assert streamed.url.endswith("/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert streamed.stream is True
    assert KEY not in streamed.url


@pytest.mark.parametrize(
    ("base_url", "model", "url"),
    [
        (
            "http://127.0.0.1:9/",
            "gemini-2.5-flash",
            "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash",
        ),
        ("http://h/v1beta", "models/gemini-2.5-pro", "http://h/v1beta/models/gemini-2.5-pro"),
        (
            "http://h/v1alpha",
            "gemini-3-pro-preview",
            "http://h/v1alpha/models/gemini-3-pro-preview",
        ),
        ("http://h", "a b/c?d", "http://h/v1beta/models/a%20b%2Fc%3Fd"),
    ],
)
def test_url_building(base_url: str, model: str, url: str) -> None:
    adapter = GeminiAdapter("gem", provider_config(base_url=base_url))
    ctx = CallContext("flash", model, "chatcmpl-x", 1, False)
    upstream = adapter.build_request(parse_chat_request(orjson.dumps(body())), ctx)
    assert upstream.url == url + ":generateContent"


def test_parse_response_returns_openai_bytes_and_usage() -> None:
    adapter = GeminiAdapter("gem", provider_config())
    reply = adapter.parse_response(
        (FIXTURES / "thinking" / "gemini_response.json").read_bytes(), CTX
    )
    assert orjson.loads(reply.body) == load("thinking", "openai_response.json")
    assert reply.usage == Usage(prompt=8, completion=167, cached=0, reasoning=156)


@pytest.mark.parametrize(
    "payload",
    [
        b"<html>oops</html>",
        b"[1, 2]",
        b'{"candidates": "nope"}',
        b"{}",
        b'{"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}',
        b'{"candidates": [{"index": "0", "content": {"parts": []}}]}',
    ],
)
def test_malformed_response_is_a_retryable_upstream_error(payload: bytes) -> None:
    adapter = GeminiAdapter("gem", provider_config())
    with pytest.raises(UpstreamError) as info:
        adapter.parse_response(payload, CTX)
    assert info.value.outcome == "malformed_response"
    assert info.value.retryable and info.value.status == 502


def test_error_object_inside_a_200_body_raises() -> None:
    adapter = GeminiAdapter("gem", provider_config())
    payload = b'{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}'
    with pytest.raises(UpstreamError) as info:
        adapter.parse_response(payload, CTX)
    assert info.value.upstream_status == 503 and info.value.retryable


def test_stream_pipe_is_a_translating_pipe() -> None:
    adapter = GeminiAdapter("gem", provider_config())
    pipe = adapter.stream_pipe(CTX)
    assert isinstance(pipe, TranslatingPipe)
    out = pipe.feed(sse_bytes("usage_cache")) + pipe.finish()
    assert decode_chunks(out) == load("usage_cache", "openai_chunks.json")
    assert pipe.usage == Usage(prompt=2100, completion=36, cached=2048, reasoning=30)


def test_adapter_options_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"providers\.gem\.options\.temperature"):
        GeminiAdapter("gem", provider_config(options={"temperature": 1}))
    with pytest.raises(ConfigError, match="thinking"):
        GeminiAdapter("gem", provider_config(options={"thinking": "lots"}))
    with pytest.raises(ConfigError, match="include_thoughts"):
        GeminiAdapter("gem", provider_config(options={"include_thoughts": "yes"}))


@pytest.mark.parametrize(
    ("model", "option", "thinking"),
    [
        ("gemini-2.5-flash", "auto", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-3-pro-preview", "auto", {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
        ("gemini-3-pro-preview", "budget", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-2.5-pro", "level", {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
    ],
)
def test_thinking_style_per_model(model: str, option: str, thinking: dict[str, Any]) -> None:
    adapter = GeminiAdapter("gem", provider_config(options={"thinking": option}))
    req = parse_chat_request(orjson.dumps(body(reasoning_effort="medium")))
    upstream = adapter.build_request(req, CallContext("flash", model, "chatcmpl-x", 1, False))
    assert orjson.loads(upstream.body)["generationConfig"]["thinkingConfig"] == thinking


def test_include_thoughts_option() -> None:
    adapter = GeminiAdapter("gem", provider_config(options={"include_thoughts": True}))
    upstream = adapter.build_request(parse_chat_request(orjson.dumps(body())), CTX)
    assert orjson.loads(upstream.body)["generationConfig"] == {
        "thinkingConfig": {"includeThoughts": True}
    }


# --- thought signatures ------------------------------------------------------------------


def test_thought_signature_round_trip() -> None:
    """A signature produced by one answer comes back on the functionCall part next turn."""
    gemini = load("thought_signature", "gemini_response.json")
    signature = gemini["candidates"][0]["content"]["parts"][1]["thoughtSignature"]
    answer = from_gemini_response(gemini, CTX)
    call = answer["choices"][0]["message"]["tool_calls"][0]
    streamed = _aggregate(decode_chunks(run_pipe(sse_bytes("thought_signature"))))[0]
    assert streamed[0]["tools"][0]["id"] == call["id"]  # same id either way

    # The client replays the conversation through the openai SDK's JSON: ids untouched.
    next_turn = {
        "model": "flash",
        "messages": [
            load("thought_signature", "openai_request.json")["messages"][0],
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": '{"booked": true}'},
        ],
    }
    request = to_gemini_request(next_turn, OPTIONS)
    model_turn = request["contents"][1]
    assert model_turn == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "book_table", "args": {"people": 2, "time": "20:00"}},
                "thoughtSignature": signature,
            }
        ],
    }
    assert request["contents"][2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "book_table", "response": {"booked": True}}}],
    }


def test_tool_call_ids_are_deterministic_and_carry_signatures() -> None:
    plain = tool_call_id("chatcmpl-1", 0, 0, None)
    assert plain == tool_call_id("chatcmpl-1", 0, 0, None)
    assert plain != tool_call_id("chatcmpl-1", 0, 1, None) != tool_call_id("chatcmpl-2", 0, 0, None)
    assert plain.startswith("call_") and len(plain) == 29
    assert split_tool_call_id(plain) == (plain, None)
    for signature in ("ab+/cd==", "YQ==", "abcd", "a+b/c+d/eA=="):
        carried = tool_call_id("chatcmpl-1", 0, 0, signature)
        assert "+" not in carried and "/" not in carried and "=" not in carried
        assert split_tool_call_id(carried) == (plain, signature)
    # Ids written by clients or other providers are only used for matching.
    for foreign in ("toolu_01ABC", "call_xyz", "x__thought__abc", "call_1__thought__"):
        assert split_tool_call_id(foreign) == (foreign, None)


def test_foreign_tool_call_ids_match_their_results() -> None:
    request = to_gemini_request(
        {
            "model": "flash",
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_01", "content": "42"},
            ],
        }
    )
    assert request["contents"][1]["parts"] == [{"functionCall": {"name": "f", "args": {}}}]
    assert request["contents"][2]["parts"] == [
        {"functionResponse": {"name": "f", "response": {"result": 42}}}
    ]


# --- request rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"web_search_options": {"search_context_size": "low"}}, "web_search_options"),
        ({"verbosity": "low"}, "verbosity"),
        (
            {
                "parallel_tool_calls": False,
                "tools": [{"type": "function", "function": {"name": "f"}}],
            },
            "parallel_tool_calls",
        ),
        ({"service_tier": "flex"}, "service_tier"),
        ({"tools": [{"type": "custom", "custom": {"name": "grammar"}}]}, "tools[0].type"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "auto", "tools": []},
                },
            },
            "tool_choice",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}
                ]
            },
            "messages[0].content[0].file.file_id",
        ),
        ({"totally_new_parameter": 1}, "totally_new_parameter"),
    ],
)
def test_unsupported_parameters(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ProxyError) as info:
        to_gemini_request(body(**fields), OPTIONS)
    error = info.value
    assert error.status == 400 and error.code == "unsupported_parameter"
    assert error.param == param
    assert f"'{param}'" in error.message and "'gem'" in error.message
    # With drop_unsupported the parameter is ignored and the request goes through.
    dropped = to_gemini_request(
        body(**fields), RequestOptions(provider="gem", drop_unsupported=True)
    )
    assert "contents" in dropped


def test_unsupported_reasoning_effort_value() -> None:
    with pytest.raises(ProxyError) as info:
        to_gemini_request(body(reasoning_effort="max"), OPTIONS)
    assert info.value.code == "unsupported_value" and info.value.param == "reasoning_effort"
    assert "'gem'" in info.value.message
    dropped = to_gemini_request(body(reasoning_effort="max"), RequestOptions(drop_unsupported=True))
    assert "generationConfig" not in dropped


def test_ignored_and_null_parameters_pass() -> None:
    fields = {
        "user": "u",
        "metadata": {"a": "b"},
        "store": False,
        "safety_identifier": "s",
        "prompt_cache_key": "k",
        "service_tier": "auto",
        "logit_bias": None,
        "audio": None,
        "functions": [],
        "parallel_tool_calls": True,
        "modalities": ["text"],
        "stream": False,
    }
    assert to_gemini_request(body(**fields), OPTIONS) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
    }


@pytest.mark.parametrize(
    ("effort", "style", "config"),
    [
        ("none", "budget", {"thinkingBudget": 0}),
        ("minimal", "budget", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("low", "budget", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("medium", "budget", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("high", "budget", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("none", "level", {"thinkingLevel": "MINIMAL"}),
        ("minimal", "level", {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
        ("high", "level", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("xhigh", "level", {"thinkingLevel": "XHIGH", "includeThoughts": True}),
    ],
)
def test_reasoning_effort(effort: str, style: Any, config: dict[str, Any]) -> None:
    options = RequestOptions(provider="gem", thinking_style=style)
    request = to_gemini_request(body(reasoning_effort=effort), options)
    assert request["generationConfig"]["thinkingConfig"] == config


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "f"}},
            {"mode": "ANY", "allowedFunctionNames": ["f"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    request = to_gemini_request(body(tools=tools, tool_choice=choice), OPTIONS)
    assert request["toolConfig"] == {"functionCallingConfig": config}
    assert request["tools"] == [{"functionDeclarations": [{"name": "f"}]}]


def test_generation_config_details() -> None:
    request = to_gemini_request(body(stop=["a", "b"], max_tokens=7, logprobs=True), OPTIONS)
    assert request["generationConfig"] == {
        "maxOutputTokens": 7,
        "stopSequences": ["a", "b"],
        "responseLogprobs": True,
    }
    json_mode = to_gemini_request(body(response_format={"type": "json_object"}), OPTIONS)
    assert json_mode["generationConfig"] == {"responseMimeType": "application/json"}


def test_message_shapes() -> None:
    request = to_gemini_request(
        {
            "model": "flash",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_audio",
                            "input_audio": {"data": "UklGRg==", "format": "wav"},
                        },
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,JVBERi0=",
                                "filename": "a.pdf",
                            },
                        },
                        {
                            "type": "file",
                            "file": {"file_data": "JVBERi0=", "filename": "notes.txt"},
                        },
                        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.png"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "refusal", "refusal": "No."}],
                    "function_call": {"name": "legacy", "arguments": '{"a": 1}'},
                },
                {"role": "function", "name": "legacy", "content": "done"},
            ],
        }
    )
    assert request["contents"] == [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                {"inlineData": {"mimeType": "text/plain", "data": "JVBERi0="}},
                {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/cat.png"}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {"text": "No."},
                {"functionCall": {"name": "legacy", "args": {"a": 1}}},
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "legacy", "response": {"result": "done"}}}],
        },
    ]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (
            [{"role": "tool", "tool_call_id": "call_unknown", "content": "x"}],
            "messages[0].tool_call_id",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{not json"},
                        }
                    ],
                }
            ],
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "[1]"},
                        }
                    ],
                }
            ],
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [{"role": "user", "content": [{"type": "video", "video": {}}]}],
            "messages[0].content[0].type",
        ),
        (
            [
                {
                    "role": "system",
                    "content": [{"type": "image_url", "image_url": {"url": "http://x"}}],
                }
            ],
            "messages[0].content[0]",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}
                    ],
                }
            ],
            "messages[0].content[0].input_audio.format",
        ),
    ],
)
def test_invalid_messages_are_400(messages: list[Any], param: str) -> None:
    with pytest.raises(ProxyError) as info:
        to_gemini_request({"model": "flash", "messages": messages}, OPTIONS)
    assert info.value.status == 400 and info.value.param == param


# --- schemas -------------------------------------------------------------------------------


def test_schema_refs_are_inlined_and_definitions_removed() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "definitions": {"Tag": {"type": "string", "enum": ["a", "b"]}},
        "type": "object",
        "properties": {
            "start": {"$ref": "#/$defs/Point", "description": "where it begins"},
            "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
            "pair": {
                "type": "array",
                "prefixItems": [{"$ref": "#/$defs/Point"}, {"type": "string"}],
            },
        },
    }
    before = copy.deepcopy(schema)
    point = {"type": "object", "properties": {"x": {"type": "number"}}}
    assert sanitize_schema(schema) == {
        "type": "object",
        "properties": {
            "start": {**point, "description": "where it begins"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "pair": {"type": "array", "prefixItems": [point, {"type": "string"}]},
        },
    }
    assert schema == before


def test_schema_recursion_is_cut() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
    }
    assert sanitize_schema(schema) == {
        "type": "object",
        "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {}},
        },
    }


def test_schema_keyword_conversions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "default": {"type": "string", "default": "x", "examples": ["y"], "x-order": 1},
            "kind": {"const": "fixed"},
            "count": {"const": 3},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer", "const": 1}]},
            "both": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "string"}}, "required": ["b", "a"]},
                ]
            },
            "map": {
                "type": "object",
                "patternProperties": {"^x": {"type": "string"}},
                "additionalProperties": {"type": "string", "$comment": "c"},
            },
            "gated": {"if": {}, "then": {}, "else": {}, "not": {}, "type": ["string", "null"]},
        },
        "additionalProperties": False,
        "unevaluatedProperties": False,
    }
    assert sanitize_schema(schema) == {
        "type": "object",
        "properties": {
            "default": {"type": "string"},
            "kind": {"enum": ["fixed"], "type": "string"},
            "count": {"enum": [3], "type": "integer"},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer", "enum": [1]}]},
            "both": {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "required": ["a", "b"],
            },
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "gated": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    }


def test_schema_unknown_refs_and_non_dicts() -> None:
    assert sanitize_schema({"$ref": "https://example.com/schema.json", "description": "d"}) == {
        "description": "d"
    }
    assert sanitize_schema(True) is True


def test_schema_blowup_is_refused() -> None:
    defs = {
        f"L{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/L{i + 1}"}, "b": {"$ref": f"#/$defs/L{i + 1}"}},
        }
        for i in range(20)
    }
    defs["L20"] = {"type": "string"}
    with pytest.raises(SchemaTooLarge):
        sanitize_schema({"$ref": "#/$defs/L0", "$defs": defs})
    assert MAX_INLINED_REFS < 2**20
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"$ref": "#/$defs/L0", "$defs": defs}},
    }
    with pytest.raises(ProxyError) as info:
        to_gemini_request(body(tools=[tool]), OPTIONS)
    assert info.value.status == 400 and info.value.param == "tools[0].function.parameters"


def test_empty_parameter_schemas_are_left_out() -> None:
    for empty in (
        {},
        {"type": "object"},
        {"type": "object", "properties": {}, "required": []},
        {"type": "object", "properties": {}, "additionalProperties": False},
    ):
        assert is_empty_object(empty)
    assert not is_empty_object({"type": "object", "properties": {"a": {}}})
    assert not is_empty_object({"type": "string"})


# --- responses and streams -----------------------------------------------------------------


@pytest.mark.parametrize(("reason", "mapped"), sorted(FINISH_REASONS.items()))
def test_finish_reason_table(reason: str, mapped: str) -> None:
    gemini = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
    assert from_gemini_response(gemini, CTX)["choices"][0]["finish_reason"] == mapped
    assert stream_chunks([gemini])[-2]["choices"][0]["finish_reason"] == mapped


def test_finish_reason_table_covers_the_issue() -> None:
    assert FINISH_REASONS["STOP"] == "stop" and FINISH_REASONS["MAX_TOKENS"] == "length"
    for reason in (
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
    ):
        assert FINISH_REASONS[reason] == "content_filter"


@pytest.mark.parametrize("reason", ["OTHER", "MALFORMED_FUNCTION_CALL", "SOMETHING_NEW", None])
def test_unknown_finish_reasons_are_stop_and_logged(
    reason: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    gemini: dict[str, Any] = {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}
    gemini["candidates"][0]["finishReason"] = reason
    with caplog.at_level(logging.WARNING, logger="proxy.providers.gemini.response"):
        assert from_gemini_response(gemini, CTX)["choices"][0]["finish_reason"] == "stop"
    assert any(str(reason) in r.getMessage() for r in caplog.records)


def test_function_call_wins_over_any_finish_reason() -> None:
    call = {"functionCall": {"name": "f", "args": {}}}
    for reason in ("STOP", "MAX_TOKENS", "OTHER"):
        gemini = {"candidates": [{"content": {"parts": [call]}, "finishReason": reason}]}
        assert from_gemini_response(gemini, CTX)["choices"][0]["finish_reason"] == "tool_calls"


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


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b"",
        b"\xff\xfe garbage",
        b"[]",
        b'{"error": "x"}',
    ],
)
def test_non_json_error_bodies_do_not_crash(payload: bytes) -> None:
    error = gemini_error("gem", 502, {}, payload)
    assert error.status == 502 and error.retryable and error.upstream_status == 502


def test_errors_never_echo_keys() -> None:
    leaked = (
        f"Request to https://generativelanguage.googleapis.com/v1beta/models/x?key={KEY}&alt=sse "
        f"failed; key {KEY} and AIzaSyOTHER-key-abcdefghijklmnopqrstuv are invalid"
    )
    payload = orjson.dumps(
        {"error": {"code": 400, "message": leaked, "status": "INVALID_ARGUMENT"}}
    )
    adapter = GeminiAdapter("gem", provider_config())
    error = adapter.parse_error(400, {}, payload)
    assert KEY not in error.message and "AIza" not in error.message
    assert "key=***" in error.message
    html = f"<html>?key={KEY}</html>".encode()
    assert KEY not in adapter.parse_error(500, {}, html).message
    assert KEY not in adapter.parse_error(500, {}, html).to_openai_body().decode()


def test_invalid_provider_key_is_not_blamed_on_the_client() -> None:
    payload = orjson.dumps(
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            }
        }
    )
    error = gemini_error("gem", 400, {}, payload)
    assert error.outcome == "auth_failed" and error.retryable and error.status == 502
    location = orjson.dumps(
        {
            "error": {
                "code": 400,
                "message": "User location is not supported for the API use.",
                "status": "FAILED_PRECONDITION",
            }
        }
    )
    assert gemini_error("gem", 400, {}, location).outcome == "auth_failed"


def test_retry_after_header_wins_over_retry_info() -> None:
    payload = (FIXTURES / "error_429" / "gemini_error.json").read_bytes()
    assert gemini_error("gem", 429, {"retry-after": "3"}, payload).retry_after == 3.0
    assert gemini_error("gem", 429, {}, payload).retry_after == 37.0
    wrapped = b"[" + payload + b"]"
    assert gemini_error("gem", 429, None, wrapped).code == "RESOURCE_EXHAUSTED"
