"""The OpenAI passthrough adapter through the router, with HTTP mocked by pytest-httpx."""

from __future__ import annotations

import orjson
import pytest
from pytest_httpx import HTTPXMock

from proxy.breakers import ProviderHealth
from proxy.config import parse_config
from proxy.errors import ProxyError, UpstreamError
from proxy.providers import build_adapter
from proxy.request import parse_chat_request
from proxy.router import Route, Router, new_context
from proxy.trace import RequestTrace
from proxy.upstream import Upstream, httpx_transport

YAML = """
providers:
  a: {type: openai, base_url: "http://a.test/v1", api_key: "${A_KEY}"}
  b: {type: openai, base_url: "http://b.test/v1"}
models:
  gpt: [{provider: a, model: a-model}, {provider: b, model: b-model}]
  same: [{provider: a, model: same}]
auth: {disabled: true}
"""
REPLY = {
    "id": "x",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
}


def make_router() -> Router:
    config = parse_config(YAML, {"A_KEY": "sk-a-secret"})
    routes = {
        name: Route(
            build_adapter(p), Upstream(p, httpx_transport(p)), ProviderHealth(name, p.breaker)
        )
        for name, p in config.providers.items()
    }
    return Router(config, routes)


async def complete(body: dict[str, object]) -> bytes:
    req = parse_chat_request(orjson.dumps(body))
    trace = RequestTrace("gpt", stream=False)
    reply = await make_router().complete(req, new_context(req, "chatcmpl-1"), "rid-1", trace)
    return reply.body


MESSAGES = [{"role": "user", "content": "hi"}]


async def test_body_bytes_pass_through_untouched(httpx_mock: HTTPXMock) -> None:
    upstream_bytes = orjson.dumps(REPLY) + b"\n"  # odd formatting survives: never re-encoded
    httpx_mock.add_response(url="http://a.test/v1/chat/completions", content=upstream_bytes)
    assert await complete({"model": "gpt", "messages": MESSAGES}) == upstream_bytes
    sent = httpx_mock.get_requests()[0]
    assert orjson.loads(sent.content)["model"] == "a-model"
    assert sent.headers["authorization"] == "Bearer sk-a-secret"
    assert sent.headers["x-request-id"] == "rid-1"


async def test_same_model_name_forwards_client_body(httpx_mock: HTTPXMock) -> None:
    # The parsed body, re-serialized (never the raw bytes: tests/providers/test_openai_duplicate_keys.py).
    httpx_mock.add_response(content=orjson.dumps(REPLY))
    raw = b'{"model": "same",   "messages": [{"role": "user", "content": "hi"}]}'
    req = parse_chat_request(raw)
    await make_router().complete(req, new_context(req, "c"), "r", RequestTrace("same", False))
    assert orjson.loads(httpx_mock.get_requests()[0].content) == orjson.loads(raw)


async def test_provider_without_key_sends_no_authorization(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="http://a.test/v1/chat/completions", status_code=503)
    httpx_mock.add_response(url="http://b.test/v1/chat/completions", content=orjson.dumps(REPLY))
    await complete({"model": "gpt", "messages": MESSAGES})
    assert "authorization" not in httpx_mock.get_requests()[1].headers


@pytest.mark.parametrize(
    ("status", "body", "expected_status", "expected_code"),
    [
        (
            400,
            {
                "error": {
                    "message": "bad",
                    "type": "invalid_request_error",
                    "param": "x",
                    "code": "c",
                }
            },
            400,
            "c",
        ),
        (422, b"<html>nope</html>", 422, None),
    ],
)
async def test_client_errors_pass_through(
    httpx_mock: HTTPXMock,
    status: int,
    body: object,
    expected_status: int,
    expected_code: str | None,
) -> None:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    httpx_mock.add_response(
        url="http://a.test/v1/chat/completions", status_code=status, content=content
    )
    with pytest.raises(UpstreamError) as info:
        await complete({"model": "gpt", "messages": MESSAGES})
    assert (info.value.status, info.value.code) == (expected_status, expected_code)
    assert len(httpx_mock.get_requests()) == 1


async def test_error_message_never_carries_the_provider_key(httpx_mock: HTTPXMock) -> None:
    echo = {"error": {"message": "Incorrect API key provided: sk-a-secret"}}
    httpx_mock.add_response(
        url="http://a.test/v1/chat/completions", status_code=400, content=orjson.dumps(echo)
    )
    with pytest.raises(UpstreamError) as info:
        await complete({"model": "gpt", "messages": MESSAGES})
    assert "sk-a-secret" not in info.value.message


async def test_oversized_reply_is_cut(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="http://a.test/v1/chat/completions", content=b"x" * (33 * 1024 * 1024)
    )
    httpx_mock.add_response(url="http://b.test/v1/chat/completions", content=orjson.dumps(REPLY))
    assert orjson.loads(await complete({"model": "gpt", "messages": MESSAGES})) == REPLY


async def test_unknown_model(httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ProxyError) as info:
        await complete({"model": "nope", "messages": MESSAGES})
    assert info.value.status == 404
