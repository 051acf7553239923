"""proxy/status.py and GET /admin/status: a breaker open, a provider cooling down, the
in-flight attempts, the pool, a disabled provider, admin auth; and never a key."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from proxy import __version__, status
from proxy.config import parse_config
from proxy.errors import upstream_status_error
from proxy.lifecycle import Lifecycle
from proxy.state import Gateway
from proxy.upstream import Upstream, httpx_transport
from tests.resilience.formats import OPENAI
from tests.resilience.scripted import Script, ScriptedUpstream

ADMIN_KEY = "admin-status-key-31415"
PROVIDER_KEY = "sk-provider-status-27182"
CLIENT_KEY = "client-status-key-16180"
YAML = f"""
providers:
  primary: {{type: openai, base_url: "http://127.0.0.1:9/v1", api_key: "{PROVIDER_KEY}",
             breaker: {{fail_max: 2, reset_timeout: 60}}, max_connections: 7}}
  backup: {{type: openai, base_url: "http://127.0.0.1:9/v1", api_key: "{PROVIDER_KEY}"}}
  later: {{type: anthropic, base_url: "http://127.0.0.1:9", api_key: "${{UNSET_KEY}}"}}
  local: {{type: mock}}
models:
  m: [{{provider: primary, model: p-model}}, {{provider: backup, model: b-model}},
      {{provider: later, model: l-model}}]
  fine: [{{provider: local, model: x}}]
auth: {{api_keys: ["{CLIENT_KEY}"]}}
admin: {{api_key: "{ADMIN_KEY}"}}
"""


def _gateway(text: str = YAML) -> Gateway:
    gateway = Gateway(parse_config(text, {}), httpx_transport, Lifecycle(10, 1.0))
    gateway.start()
    return gateway


def _open_and_cool(gateway: Gateway) -> None:
    """What the router does on two 500s from primary and a 429 (Retry-After: 30) from backup."""
    state = gateway.state
    assert state is not None
    primary = state.routes["primary"].health
    for _ in range(2):
        primary.record_failure(primary.admit(), upstream_status_error("primary", 500, "boom"))
    backup = state.routes["backup"].health
    admission = backup.admit()
    error = upstream_status_error("backup", 429, "slow down", {"retry-after": "30"})
    backup.start_cooldown(error.retry_after)
    backup.release(admission, error)


def _at(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text[:-1] + "+00:00")


def test_status_shows_an_open_breaker_and_a_cooldown() -> None:
    gateway = _gateway()
    _open_and_cool(gateway)
    before = datetime.now(UTC)
    body = status.build(gateway)

    primary = body["providers"]["primary"]
    breaker = primary["breaker"]
    assert breaker is not None
    assert breaker["state"] == "open"
    assert "2 consecutive failures, last: server_error" in breaker["reason"]
    assert 0 < breaker["open_seconds_left"] <= 60
    assert abs((_at(breaker["since"]) - before).total_seconds()) < 60
    assert primary["usable"] is False
    assert primary["cooldown"] is None
    assert primary["last_error"] is not None
    assert primary["last_error"]["outcome"] == "server_error"
    assert primary["pool"] == {"in_use": 0, "limit": 7, "waiting": 0}

    backup = body["providers"]["backup"]
    assert backup["breaker"] is not None and backup["breaker"]["state"] == "closed"
    assert backup["breaker"]["consecutive_failures"] == 0  # a 429 is not a failure
    assert backup["cooldown"] is not None
    assert 0 < backup["cooldown"]["seconds_left"] <= 30
    assert "Retry-After 30s" in backup["cooldown"]["reason"]
    assert backup["usable"] is False
    assert backup["last_error"] is not None and backup["last_error"]["outcome"] == "rate_limited"

    assert [(d["provider"], d["usable"]) for d in body["models"]["m"]] == [
        ("primary", False),
        ("backup", False),
        ("later", False),
    ]
    assert body["models"]["fine"] == [{"provider": "local", "model": "x", "usable": True}]


def test_status_top_level_fields() -> None:
    gateway = _gateway()
    body = status.build(gateway)
    assert body["version"] == __version__
    assert body["config"]["sha256"] == hashlib.sha256(YAML.encode()).hexdigest()
    _at(body["config"]["loaded_at"])
    assert body["uptime_seconds"] >= 0
    assert body["draining"] is False
    assert body["in_flight_requests"] == 0
    assert body["worker"]["pid"] > 0
    later = body["providers"]["later"]
    assert later["enabled"] is False and later["missing_vars"] == ["UNSET_KEY"]
    assert later["breaker"] is None and later["pool"] is None


def test_in_flight_attempts_follow_admission_and_verdicts() -> None:
    gateway = _gateway()
    assert gateway.state is not None
    health = gateway.state.routes["backup"].health

    def in_flight() -> int:
        return status.build(gateway)["providers"]["backup"]["in_flight_attempts"]

    first, second = health.admit(), health.admit()
    assert in_flight() == 2
    health.record_success(first)
    assert in_flight() == 1
    health.release(second)
    assert in_flight() == 0
    health.record_failure(health.admit(), upstream_status_error("backup", 502, "bad gateway"))
    assert in_flight() == 0


def test_half_open_with_its_probe_out_is_not_usable() -> None:
    text = YAML.replace("reset_timeout: 60", "reset_timeout: 0.001")
    gateway = _gateway(text)
    assert gateway.state is not None
    health = gateway.state.routes["primary"].health
    for _ in range(2):
        health.record_failure(health.admit(), upstream_status_error("primary", 500, "boom"))
    assert health.breaker.state == "open"
    deadline = datetime.now(UTC).timestamp() + 5
    while health.admit() != "probe":  # reset_timeout is 1 ms: bounded wait for it
        assert datetime.now(UTC).timestamp() < deadline
    primary = status.build(gateway)["providers"]["primary"]
    assert primary["breaker"] is not None and primary["breaker"]["state"] == "half-open"
    assert primary["usable"] is False and primary["in_flight_attempts"] == 1


def test_no_secret_in_the_status() -> None:
    gateway = _gateway()
    _open_and_cool(gateway)
    text = orjson.dumps(status.build(gateway)).decode()
    for secret in (ADMIN_KEY, PROVIDER_KEY, CLIENT_KEY, "127.0.0.1:9"):
        assert secret not in text


@pytest.mark.parametrize(
    ("admin", "headers", "expected"),
    [
        (True, {}, 401),
        (True, {"authorization": "Bearer wrong-key-123456"}, 401),
        (True, {"authorization": f"Bearer {CLIENT_KEY}"}, 401),  # a client key is not enough
        (True, {"authorization": f"Bearer {ADMIN_KEY}"}, 200),
        (False, {"authorization": f"Bearer {ADMIN_KEY}"}, 403),  # no admin key configured
    ],
)
def test_admin_status_endpoint_auth(
    start_proxy: Callable[..., str], admin: bool, headers: dict[str, str], expected: int
) -> None:
    text = YAML if admin else YAML.replace(f'admin: {{api_key: "{ADMIN_KEY}"}}', "")
    url = start_proxy(text)
    response = httpx.get(f"{url}/admin/status", headers=headers, timeout=10)
    assert response.status_code == expected, response.text
    for secret in (ADMIN_KEY, PROVIDER_KEY, CLIENT_KEY):
        assert secret not in response.text
    if expected == 200:
        assert response.json()["providers"]["primary"]["breaker"]["state"] == "closed"
    else:
        assert "error" in response.json()


def test_a_committed_stream_is_an_attempt_in_flight_until_it_ends(
    start_proxy: Callable[..., str],
) -> None:
    fake = ScriptedUpstream(OPENAI, Script(stall_after=2)).start()
    try:
        text = f"""
providers:
  up: {{type: openai, base_url: "{fake.url}/v1", api_key: "{PROVIDER_KEY}"}}
models:
  m: [{{provider: up, model: u}}]
auth: {{api_keys: ["{CLIENT_KEY}"]}}
admin: {{api_key: "{ADMIN_KEY}"}}
"""
        url = start_proxy(text)

        def up() -> dict[str, Any]:
            admin = {"authorization": f"Bearer {ADMIN_KEY}"}
            body = httpx.get(f"{url}/admin/status", headers=admin, timeout=10).json()
            return body["providers"]["up"]  # type: ignore[no-any-return]

        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        auth = {"authorization": f"Bearer {CLIENT_KEY}"}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth) as r:
            assert r.status_code == 200
            chunks = r.iter_raw()  # held: a dropped generator would close the response
            next(chunks)  # committed: the upstream stalls after its second event
            now = up()
            assert now["in_flight_attempts"] == 1 and now["pool"]["in_use"] == 1, now
        # The client went away: the attempt ends without a verdict, the slot comes back.
        deadline = time.monotonic() + 10
        while (now := up())["in_flight_attempts"] or now["pool"]["in_use"]:
            assert time.monotonic() < deadline, now
            time.sleep(0.02)
        assert now["last_error"] is None and now["breaker"]["consecutive_failures"] == 0
    finally:
        fake.stop()


async def test_pool_numbers_come_from_the_gate() -> None:
    """Upstream.pool_usage reads asyncio.Semaphore's private counters: check them here."""
    config = parse_config(YAML.replace("max_connections: 7", "max_connections: 1"), {})
    upstream = Upstream(config.providers["primary"], httpx_transport(config.providers["primary"]))
    loop = asyncio.get_running_loop()
    assert upstream.pool_usage() == (0, 0)
    async with upstream.slot(loop.time() + 10):
        assert upstream.pool_usage() == (1, 0)
        waiter = asyncio.create_task(upstream.slot(loop.time() + 10).__aenter__())
        async with asyncio.timeout(5):
            while upstream.pool_usage()[1] == 0:  # until the waiter is queued
                await asyncio.sleep(0)
        assert upstream.pool_usage() == (1, 1)
    slot = await asyncio.wait_for(waiter, 5)  # handed over: still in use, nobody queued
    assert upstream.pool_usage() == (1, 0)
    slot.release()
    assert upstream.pool_usage() == (0, 0)
    await upstream.aclose()
