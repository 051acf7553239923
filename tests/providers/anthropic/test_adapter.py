"""proxy/providers/anthropic/adapter.py: URL, headers and options at startup; bytes in and out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.config import ConfigError, ProviderConfig, Secret
from proxy.errors import UpstreamError
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.pipes import TranslatingPipe
from proxy.request import parse_chat_request
from tests.providers.anthropic.golden import BASE, CASES, CTX, KEY, load, provider


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


def test_default_max_tokens_option() -> None:
    adapter = AnthropicAdapter("claude", provider(default_max_tokens=1000))
    req = parse_chat_request(orjson.dumps(BASE))
    assert orjson.loads(adapter.build_request(req, CTX).body)["max_tokens"] == 1000


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
