"""Every adapter's client-visible errors are free of every configured secret (design.md §5).

One table over the three adapter families: the provider's key (and another configured
secret, a client key) quoted in error bodies the adapter cannot read (a WAF's HTML page),
placed so it straddles each excerpt cut, in the fields of error bodies it can read, and in
in-band stream errors. A cut made before the redaction would leave a prefix of the key.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import orjson
import pytest

from proxy.config import ProviderConfig, Secret
from proxy.errors import ProxyError, UpstreamError
from proxy.logs import register_secrets
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter, CallContext
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.openai import OpenAIAdapter
from proxy.sse import SSEEvent

KEY = "tenant-provider-key-0123456789abcdef"  # shaped like no known key pattern
CLIENT_KEY = "client-key-of-another-caller-9876543210"
CTX = CallContext("m", "m", "chatcmpl-1", 1700000000, False)


def _config(kind: str) -> ProviderConfig:
    return ProviderConfig(
        name=kind,
        type=kind,
        base_url="https://upstream.example/v1",
        api_key=Secret(KEY),
        options=MappingProxyType({}),
    )


ADAPTERS: dict[str, Callable[[ProviderConfig], Adapter]] = {
    "openai": lambda c: OpenAIAdapter("openai", c),
    "anthropic": lambda c: AnthropicAdapter("anthropic", c),
    "gemini": lambda c: GeminiAdapter("gemini", c),
}


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Adapter:
    kind = request.param
    return ADAPTERS[kind](_config(kind))


def _leaks(text: str, secret: str = KEY) -> list[str]:
    """Every 8-character window of `secret` found in `text`: a cut-off prefix counts."""
    return [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in text]


def _visible(error: ProxyError) -> str:
    return error.to_openai_body().decode()


# The old cuts of unreadable bodies (bytes, before any redaction): 120, 200, 300 characters.
@pytest.mark.parametrize("cut", [80, 120, 200, 300, 4096])
def test_unreadable_body_straddling_a_cut(adapter: Adapter, cut: int) -> None:
    html = ("<html>" + "a" * (cut - 6 - len(KEY) // 2) + KEY + "</html>").encode()
    assert _leaks(_visible(adapter.parse_error(502, {}, html))) == []


def test_readable_body_every_field(adapter: Adapter) -> None:
    message = f"bad key {KEY}"
    bodies = {
        # The openai shape serves as the fallback for the others' unknown shapes too.
        "openai": {"error": {"message": message, "type": KEY, "param": KEY, "code": KEY}},
        "anthropic": {"type": "error", "error": {"type": KEY, "message": message}},
        "gemini": {"error": {"code": 400, "message": message, "status": KEY}},
    }
    for body in bodies.values():
        for status in (400, 401, 429, 500):
            error = adapter.parse_error(status, {}, orjson.dumps(body))
            assert _leaks(_visible(error)) == [], (status, body)


def test_message_straddling_the_message_cut(adapter: Adapter) -> None:
    for limit in (1000, 2000):
        message = "x" * (limit - len(KEY) // 2) + KEY
        bodies = [
            {"error": {"message": message, "type": "invalid_request_error"}},
            {"type": "error", "error": {"type": "invalid_request_error", "message": message}},
            {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}},
        ]
        for body in bodies:
            error = adapter.parse_error(400, {}, orjson.dumps(body))
            assert _leaks(_visible(error)) == [], (limit, body)


def test_every_configured_secret_not_only_the_providers_key(adapter: Adapter) -> None:
    register_secrets([CLIENT_KEY])  # as the config load does for client and admin keys
    body = {"error": {"message": f"x-api-key {CLIENT_KEY}", "code": 400, "type": "x"}}
    error = adapter.parse_error(400, {}, orjson.dumps(body))
    assert _leaks(_visible(error), CLIENT_KEY) == []


IN_BAND = {
    "openai": [orjson.dumps({"error": {"message": f"upstream key {KEY} rejected"}})],
    "anthropic": [
        orjson.dumps({"type": "error", "error": {"type": KEY, "message": f"key {KEY}"}}),
    ],
    "gemini": [orjson.dumps({"error": {"code": 500, "message": f"key {KEY}", "status": KEY}})],
}


@pytest.mark.parametrize("kind", list(ADAPTERS))
def test_in_band_stream_errors(kind: str) -> None:
    adapter = ADAPTERS[kind](_config(kind))
    # The event that is not JSON is quoted, cut at 80 characters: the key straddles the cut.
    not_json = "{" + "b" * (80 - 2 - len(KEY) // 2) + KEY
    for data in [*IN_BAND[kind], not_json.encode()]:
        event = b"event: error\n" if kind == "anthropic" else b""
        pipe = adapter.stream_pipe(CTX)
        with pytest.raises(UpstreamError) as caught:
            pipe.feed(event + b"data: " + data + b"\n\n")
        assert _leaks(_visible(caught.value)) == [], data


def test_sse_event_excerpt_is_redacted_before_its_cut() -> None:
    register_secrets([KEY])
    with pytest.raises(ValueError) as caught:
        SSEEvent("{" + "c" * (80 - 2 - len(KEY) // 2) + KEY).json()
    assert _leaks(str(caught.value)) == []
