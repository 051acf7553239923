"""Stream bounds on a real server (issue 16, items 6 and 8; issue 10, item 11): a client
that stops reading, a stream event larger than 1 MiB, keep-alive comments before the first
data event. Loopback only, bounded in bytes and time."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import orjson

from tests.resilience.formats import OPENAI
from tests.resilience.harness import Gateway
from tests.resilience.scripted import Script, ScriptedUpstream

Scripted = Callable[..., ScriptedUpstream]
Make = Callable[..., Gateway]


def _content_event(text: str) -> bytes:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "s",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return OPENAI.frame(orjson.dumps(chunk))


def test_a_client_that_stops_reading_has_its_stream_ended(
    scripted: Scripted, gateway: Make
) -> None:
    """8 MiB of answer to a client that reads nothing: after client_idle_timeout the proxy
    ends the stream and closes the upstream; the provider is not charged."""
    events = [OPENAI.transcript()[0], *[_content_event("x" * 65536)] * 128, OPENAI.frame(b"[DONE]")]
    # The upstream keeps its connection open after the last byte, so its close is ours.
    fake = scripted(OPENAI, Script(events=events, stall_after=len(events) - 1))
    gw = gateway(
        {"primary": OPENAI.provider(fake.url, breaker={"fail_max": 1, "reset_timeout": 60})},
        server={"client_idle_timeout": 0.5},
    )
    before = gw.metrics()
    stuck = gw.open_stream(timeout=10)
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert stuck.result.status == 200
    assert fake.wait_until(lambda: fake.requests[0].outcome == "disconnected", 10), (
        "the upstream must be closed once the client has been idle too long"
    )
    after = gw.metrics()
    attempts = "proxy_upstream_attempts_total"
    assert after.value(attempts, provider="primary", outcome="client_idle") == 1
    disconnects = "proxy_client_disconnects_total"
    assert after.value(disconnects) == before.value(disconnects)
    # The breaker (fail_max 1) was not charged: the primary is still tried.
    gw.open_stream(timeout=10).close()
    assert fake.wait_until(lambda: fake.hits == 2, 5)


def test_an_event_larger_than_1_mib_streams_through(scripted: Scripted, gateway: Make) -> None:
    """OpenRouter streams a generated image whole in one event of 1-2 MB."""
    image = "i" * (2 << 20)
    events = [OPENAI.transcript()[0], _content_event(image), OPENAI.frame(b"[DONE]")]
    fake = scripted(OPENAI, Script(events=events))
    gw = gateway({"primary": OPENAI.provider(fake.url)})
    result = gw.stream(timeout=20)
    assert result.status == 200 and result.done and not result.error_events
    assert result.content == image


def test_endless_comments_before_the_first_event_fall_back(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    """Keep-alive comments (1 MiB of them) before any data: bounded, then a fallback."""
    comments = [b": " + b"k" * 4094 + b"\n\n"] * 256
    fake = scripted(OPENAI, Script(events=[*comments, *OPENAI.transcript()]))
    backup, backup_url = fake_openai(content="from secondary")
    gw = gateway(
        {"primary": OPENAI.provider(fake.url), "secondary": OPENAI.provider(backup_url)},
        server={"max_precommit_bytes": 65536},
    )
    result = gw.stream()
    assert result.status == 200 and result.headers["x-proxy-provider"] == "secondary"
    assert backup.hits == 1
