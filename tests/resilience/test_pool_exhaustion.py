"""Issue 16 (pool half): a full connection pool is the proxy's shortage, not the provider's.

A stream whose client never reads holds the provider's only connection (max_connections: 1).
A second request that waits for that connection past the provider's ttfb_timeout must not
charge the breaker (fail_max 1 here, so one charge would open it): it ends with its own
outcome, `pool_timeout`; the model falls back to its next deployment if it has one, else
the client gets 503 `pool_exhausted` with Retry-After. Once the stream is gone, the same
provider serves again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.resilience.formats import OPENAI
from tests.resilience.harness import Gateway, assert_openai_error
from tests.resilience.scripted import Recorded, Script, ScriptedUpstream

Scripted = Callable[..., ScriptedUpstream]
Make = Callable[..., Gateway]


def _pool_of_one(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, **primary: Any
) -> tuple[ScriptedUpstream, Gateway]:
    """Primary: one connection, ttfb 0.5 s, breaker opens on its first charge. Model "m":
    primary then a healthy secondary; model "solo": primary alone."""

    def choose(record: Recorded) -> Script:
        scripts = {"hold": Script(stall_after=2), "slowish": Script(delay_headers=0.2)}
        return scripts.get(record.user_text(), Script())  # "hold": 2 events, then silence

    fake = scripted(OPENAI, choose=choose)
    _, backup_url = fake_openai(content="from secondary")
    primary = OPENAI.provider(
        fake.url,
        max_connections=1,
        ttfb_timeout=0.5,
        idle_timeout=30,
        breaker={"fail_max": 1, "reset_timeout": 30},
        **primary,
    )
    gw = gateway(
        {"primary": primary, "secondary": OPENAI.provider(backup_url)},
        models={"m": ["primary", "secondary"], "solo": ["primary"]},
    )
    return fake, gw


def _hold_the_only_connection(gw: Gateway) -> Any:
    held = gw.open_stream(model="solo", content="hold", timeout=30)
    assert held.result.status == 200
    assert held.next_event() is not None  # committed; now the client stops reading
    return held


def _let_go(held: Any, fake: ScriptedUpstream) -> None:
    held.close()
    first = fake.requests[0]
    assert fake.wait_until(lambda: first.outcome == "disconnected", timeout=10)


def _pool_timeouts(gw: Gateway) -> float:
    # The registry is per process: compare counts before and after, never absolute values.
    metrics = gw.metrics()
    return metrics.value(
        "proxy_upstream_attempts_total", provider="primary", outcome="pool_timeout"
    )


def _assert_primary_still_trusted(gw: Gateway, fake: ScriptedUpstream) -> None:
    hits = fake.hits
    response = gw.chat(model="m", content="ok")
    assert response.status_code == 200, response.text
    assert response.headers["x-proxy-provider"] == "primary"  # an open breaker would skip it
    assert fake.hits == hits + 1


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
def test_a_full_pool_is_a_503_with_retry_after_and_no_breaker_charge(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, stream: bool
) -> None:
    fake, gw = _pool_of_one(scripted, fake_openai, gateway)
    held = _hold_the_only_connection(gw)
    before = _pool_timeouts(gw)
    if stream:
        result = gw.stream(model="solo", content="ok")
        status, headers, body = result.status, result.headers, result.json()
    else:
        response = gw.chat(model="solo", content="ok")
        status, headers, body = response.status_code, response.headers, response.json()
        assert_openai_error(response, 503, "pool_exhausted")
    assert status == 503, body
    assert body["error"]["code"] == "pool_exhausted"
    assert "pool" in body["error"]["message"]
    assert int(headers["retry-after"]) >= 1
    assert fake.hits == 1  # the waiting request never reached the provider
    assert _pool_timeouts(gw) == before + 1
    _let_go(held, fake)
    _assert_primary_still_trusted(gw, fake)


def test_a_full_pool_falls_back_to_the_next_deployment(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    fake, gw = _pool_of_one(scripted, fake_openai, gateway)
    held = _hold_the_only_connection(gw)
    response = gw.chat(model="m", content="ok")
    assert response.status_code == 200, response.text
    assert response.headers["x-proxy-provider"] == "secondary"
    assert fake.hits == 1
    _let_go(held, fake)
    _assert_primary_still_trusted(gw, fake)


def test_the_provider_gets_its_whole_ttfb_after_a_wait_for_the_pool(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    """Waiting 1 s for the connection, then 0.2 s for the provider: within ttfb 0.5 s, since
    the provider's clock starts when the proxy has a connection for it."""
    fake, gw = _pool_of_one(scripted, fake_openai, gateway, pool_timeout=20)
    held = _hold_the_only_connection(gw)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(gw.chat, model="solo", content="slowish")
        # Not a synchronisation: the scenario is a pool wait longer than the ttfb timeout,
        # and a sleep lasts at least this long.
        time.sleep(1.0)
        assert not waiting.done()
        _let_go(held, fake)
        response = waiting.result(timeout=20)
    assert response.status_code == 200, response.text
    assert response.headers["x-proxy-provider"] == "primary"
