"""providers/base.py: encode_request turns a body orjson cannot serialize into a 400."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from proxy.config import ProviderConfig
from proxy.errors import ProxyError
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter, CallContext
from proxy.providers.openai import OpenAIAdapter
from proxy.request import parse_chat_request

CTX = CallContext("m", "m", "chatcmpl-1", 1700000000, False)


def _nested(depth: int) -> bytes:
    # Written as text: orjson.dumps itself could not write it.
    opening = b'{"type": "object", "properties": {"p": ' * depth
    return opening + b"{}" + b"}}" * depth


def _config(kind: str) -> ProviderConfig:
    return ProviderConfig(
        name=kind,
        type=kind,
        base_url="https://upstream.example/v1",
        api_key=None,
        options=MappingProxyType({}),
    )


ADAPTERS: list[tuple[str, type[Any]]] = [("openai", OpenAIAdapter), ("anthropic", AnthropicAdapter)]


@pytest.mark.parametrize(("kind", "cls"), ADAPTERS, ids=[k for k, _ in ADAPTERS])
def test_a_body_nested_beyond_what_orjson_writes_is_a_400(kind: str, cls: type[Any]) -> None:
    # 200 schema levels are 400 JSON levels: orjson.loads takes them, orjson.dumps does not.
    tool = b'{"type": "function", "function": {"name": "deep", "parameters": %s}}' % _nested(200)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [%s]}' % tool
    req = parse_chat_request(body)
    adapter: Adapter = cls(kind, _config(kind))
    with pytest.raises(ProxyError) as caught:
        adapter.build_request(req, CTX)
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")
