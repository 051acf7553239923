"""proxy/providers/anthropic/errors.py: Anthropic error bodies -> UpstreamError."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import QUOTA_COOLDOWN, ProxyError
from proxy.providers.anthropic import AnthropicAdapter, anthropic_error
from tests.providers.anthropic.golden import ERROR_CASES, KEY, load, provider


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
