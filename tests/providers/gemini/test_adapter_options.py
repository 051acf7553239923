"""GeminiAdapter options max_schema_nodes / max_schema_depth: validated, and honoured."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson
import pytest

from proxy.config import ConfigError, ProviderConfig
from proxy.errors import ProxyError
from proxy.providers.base import CallContext
from proxy.providers.gemini import GeminiAdapter
from proxy.request import parse_chat_request

CTX = CallContext("flash", "gemini-2.5-flash", "chatcmpl-1", 1700000000, False)


def _config(**options: Any) -> ProviderConfig:
    return ProviderConfig(
        name="gem",
        type="gemini",
        base_url="https://generativelanguage.googleapis.com",
        api_key=None,
        options=MappingProxyType(options),
    )


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"max_schema_nodes": 0}, "providers.gem.options.max_schema_nodes"),
        ({"max_schema_nodes": "many"}, "providers.gem.options.max_schema_nodes"),
        ({"max_schema_depth": 0}, "providers.gem.options.max_schema_depth"),
        ({"max_schema_depth": 101}, "providers.gem.options.max_schema_depth"),
        ({"max_schema_depth": True}, "providers.gem.options.max_schema_depth"),
    ],
)
def test_bad_schema_bounds_are_refused_with_their_yaml_path(
    options: dict[str, Any], path: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        GeminiAdapter("gem", _config(**options))
    assert str(caught.value).startswith(path)


def _request(parameters: dict[str, Any]) -> bytes:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": parameters}}
    messages = [{"role": "user", "content": "hi"}]
    return orjson.dumps({"model": "flash", "messages": messages, "tools": [tool]})


@pytest.mark.parametrize(
    ("options", "parameters"),
    [
        ({"max_schema_nodes": 5}, {"type": "object", "properties": {"a": {}, "b": {}, "c": {}}}),
        ({"max_schema_depth": 2}, {"type": "array", "items": {"type": "array", "items": {}}}),
    ],
)
def test_configured_bounds_are_honoured(
    options: dict[str, Any], parameters: dict[str, Any]
) -> None:
    req = parse_chat_request(_request(parameters))
    GeminiAdapter("gem", _config()).build_request(req, CTX)  # fine with the defaults
    with pytest.raises(ProxyError) as caught:
        GeminiAdapter("gem", _config(**options)).build_request(req, CTX)
    assert caught.value.status == 400 and "'lookup'" in caught.value.message
