"""A recorded Claude Code request (tests/fixtures/messages/claude_code/, written from issue
14's description: betas header, cache_control with ttl, context_management, system blocks, a
dozen tools with one deferred, adaptive thinking with effort, a signed thinking block, a
mid-conversation system turn) replayed through the proxy to an anthropic deployment: the
upstream must receive the body byte for byte apart from `model`, the anthropic-* headers
exactly as sent and the provider's key instead of the client's; the stream comes back as
the upstream sent it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import yaml

from tests.conftest import CLIENT_KEY
from tests.fakes.formats import ANTHROPIC, PROVIDER_KEY
from tests.fakes.scripted import ScriptedUpstream

RECORDED = Path(__file__).parent.parent / "fixtures" / "messages" / "claude_code"
UPSTREAM_MODEL = "claude-sonnet-4-5-20250929"


def test_claude_code_request_is_forwarded_byte_for_byte(
    scripted: Callable[..., ScriptedUpstream], start_proxy: Callable[..., str]
) -> None:
    upstream = scripted(ANTHROPIC)
    config = {
        "providers": {"claude": ANTHROPIC.provider(upstream.url)},
        "models": {"claude-sonnet-4-5": [{"provider": "claude", "model": UPSTREAM_MODEL}]},
    }
    proxy = start_proxy(yaml.safe_dump(config))
    raw = (RECORDED / "request.json").read_bytes()
    headers = {**json.loads((RECORDED / "headers.json").read_text())}
    headers["authorization"] = f"Bearer {CLIENT_KEY}"  # ANTHROPIC_AUTH_TOKEN

    with httpx.Client(timeout=10) as client:
        answer = client.post(f"{proxy}/v1/messages?beta=true", content=raw, headers=headers)

    assert answer.status_code == 200
    assert answer.content == b"".join(ANTHROPIC.transcript())  # the stream as it arrived
    received = upstream.requests[-1]
    assert received.path == "/v1/messages"
    expected = raw.replace(
        b'"model":"claude-sonnet-4-5"', orjson.dumps({"model": UPSTREAM_MODEL})[1:-1]
    )
    assert received.raw == expected
    assert received.headers["anthropic-beta"] == headers["anthropic-beta"]
    assert received.headers["anthropic-version"] == headers["anthropic-version"]
    assert received.headers["x-api-key"] == PROVIDER_KEY
    assert "authorization" not in received.headers
