"""proxy/providers/gemini/adapter.py: native endpoints, key header, options; bytes in and out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.config import ConfigError
from proxy.errors import UpstreamError
from proxy.providers.base import CallContext, Usage
from proxy.providers.gemini import GeminiAdapter, to_gemini_request
from proxy.providers.pipes import TranslatingPipe
from proxy.request import parse_chat_request
from tests.providers.gemini.golden import (
    CTX,
    FIXTURES,
    KEY,
    OPTIONS,
    body,
    decode_chunks,
    load,
    provider_config,
    sse_bytes,
)


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
