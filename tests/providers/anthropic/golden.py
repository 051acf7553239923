"""Golden cases shared by the Anthropic tests (tests/fixtures/anthropic/<case>/).

Success cases hold openai_request.json -> anthropic_request.json, and anthropic_response.json /
anthropic_response.sse -> openai_response.json / openai_chunks.json (chunks recorded with
stream_options.include_usage true). Error cases hold anthropic_error.json (status, headers,
body) -> expected_error.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from proxy.config import ProviderConfig, Secret
from proxy.errors import ProxyError
from proxy.providers.anthropic import AnthropicStreamTranslator, to_anthropic_request
from proxy.providers.anthropic.request import RequestOptions
from proxy.providers.base import CallContext
from proxy.sse import SSEDecoder

FIXTURES = Path(__file__).parents[2] / "fixtures" / "anthropic"
CASES = sorted(p.name for p in FIXTURES.iterdir() if not p.name.startswith("error_"))
ERROR_CASES = sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith("error_"))
KEY = "sk-ant-api03-secret-test-key"
CTX = CallContext("smart", "claude-sonnet-4-5", "chatcmpl-anthropic-test", 1750000000, False)
CTX_USAGE = CallContext("smart", "claude-sonnet-4-5", "chatcmpl-anthropic-test", 1750000000, True)


def load(case: str, name: str) -> Any:
    return json.loads((FIXTURES / case / name).read_text())


def sse_bytes(case: str) -> bytes:
    return (FIXTURES / case / "anthropic_response.sse").read_bytes()


def stream_chunks(case: str, ctx: CallContext = CTX) -> list[dict[str, Any]]:
    """The case's Anthropic SSE transcript through the stream translator."""
    translator = AnthropicStreamTranslator(ctx, "claude")
    decoder = SSEDecoder()
    chunks: list[dict[str, Any]] = []
    for event in decoder.feed(sse_bytes(case)) + decoder.flush():
        chunks.extend(translator.feed(event))
    return chunks + translator.finish()


def provider(drop_unsupported: bool = False, **options: Any) -> ProviderConfig:
    return ProviderConfig(
        name="claude",
        type="anthropic",
        base_url="https://api.anthropic.com",
        api_key=Secret(KEY),
        drop_unsupported=drop_unsupported,
        options=MappingProxyType(options),
    )


BASE = {"model": "smart", "messages": [{"role": "user", "content": "Hi"}]}


def translate(**fields: Any) -> dict[str, Any]:
    return dict(to_anthropic_request({**BASE, **fields}, CTX, RequestOptions("claude")))


def rejected(**fields: Any) -> ProxyError:
    with pytest.raises(ProxyError) as info:
        translate(**fields)
    assert info.value.status == 400
    return info.value
