"""The metrics side of the checklist (A1, A3, A5, B5, B8, C1, C4, D1, F1), scraped from
GET /metrics and parsed with prometheus_client's parser.

In-process proxies share one Prometheus registry, so every assertion is a delta between two
scrapes, and each test names its providers uniquely so that gauges set by an earlier test's
proxy cannot be confused with this one's.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.formats import OPENAI
from tests.fakes.scripted import Recorded, Script, ScriptedUpstream
from tests.resilience.harness import Gateway, Metrics
from tests.resilience.test_f_lifecycle import LIFECYCLE_CONFIG, PROMPT, ProxyProcess
from tests.waiting import let_time_pass, wait_until

Scripted = Callable[..., ScriptedUpstream]
Make = Callable[..., Gateway]
ATTEMPTS = "proxy_upstream_attempts_total"
_names = itertools.count()


def _unique(prefix: str) -> tuple[str, str]:
    n = next(_names)
    return f"{prefix}{n}a", f"{prefix}{n}b"


def _delta(before: Metrics, after: Metrics, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def _pair(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    script: Script | None = None,
    choose: Callable[[Recorded], Script] | None = None,
    breaker: dict[str, Any] | None = None,
    **primary: Any,
) -> tuple[ScriptedUpstream, Gateway, str, str]:
    first, second = _unique("p")
    fake = scripted(OPENAI, script, choose)
    _, backup_url = fake_openai(content="from secondary")
    options = {"breaker": breaker or {"fail_max": 1, "reset_timeout": 30}, **primary}
    gw = gateway(
        {first: OPENAI.provider(fake.url, **options), second: OPENAI.provider(backup_url)},
        models={"m": [first, second], "solo": [first]},
    )
    return fake, gw, first, second


def test_a3_metrics_attempts_and_fallbacks_counted(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    _, gw, first, second = _pair(scripted, fake_openai, gateway, Script(status=503))
    before = gw.metrics()
    assert gw.chat().status_code == 200
    after = gw.metrics()
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="server_error") == 1
    assert _delta(before, after, ATTEMPTS, provider=second, outcome="ok") == 1
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="ok") == 0
    assert (
        _delta(
            before,
            after,
            "proxy_fallbacks_total",
            model="m",
            from_provider=first,
            reason="server_error",
        )
        == 1
    )


def test_a1_metrics_429_rate_limited_breaker_untouched(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    _, gw, first, _ = _pair(
        scripted, fake_openai, gateway, Script(status=429, headers={"retry-after": "7"})
    )
    before = gw.metrics()
    assert gw.chat().status_code == 200
    after = gw.metrics()
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="rate_limited") == 1
    assert after.value("proxy_breaker_state", provider=first) == 0
    assert _delta(before, after, "proxy_breaker_transitions_total", provider=first) == 0
    assert (
        _delta(
            before,
            after,
            "proxy_fallbacks_total",
            model="m",
            from_provider=first,
            reason="rate_limited",
        )
        == 1
    )


def test_a5_metrics_provider_auth_failures_counted_no_key(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    _, gw, first, _ = _pair(scripted, fake_openai, gateway, Script(status=401))
    before = gw.metrics()
    assert gw.chat().status_code == 200
    after = gw.metrics()
    assert _delta(before, after, "proxy_provider_auth_failures_total", provider=first) == 1
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="auth_failed") == 1
    text = gw.client.get("/metrics").text
    assert OPENAI.api_key not in text and OPENAI.api_key[:12] not in text


def test_b5_metrics_truncated_stream_is_not_a_success(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    _, gw, first, _ = _pair(scripted, fake_openai, gateway, Script(close_after=3, event_delay=0.03))
    before = gw.metrics()
    result = gw.stream()
    assert len(result.error_events) == 1
    after = gw.metrics()
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="upstream_truncated") == 1
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="ok") == 0, (
        "a truncated stream must not also count as a successful attempt"
    )


def test_b8_metrics_client_disconnect_counted_not_a_failure(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    fake, gw, first, _ = _pair(
        scripted, fake_openai, gateway, Script(events=OPENAI.transcript(60), event_delay=0.1)
    )
    before = gw.metrics()
    stream = gw.open_stream()
    for _ in range(3):
        assert stream.next_event() is not None
    stream.close()
    assert fake.wait_until(lambda: fake.requests[0].outcome == "disconnected", 3)

    def counted() -> bool:
        return _delta(before, gw.metrics(), "proxy_client_disconnects_total", model="m") == 1

    assert fake.wait_until(counted, 3)
    after = gw.metrics()
    failures = ("timeout", "stream_error", "upstream_truncated", "server_error")
    for outcome in failures:
        assert _delta(before, after, ATTEMPTS, provider=first, outcome=outcome) == 0
    assert after.value("proxy_breaker_state", provider=first) == 0


def test_c1_metrics_breaker_gauge_follows_every_transition(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    fake, gw, first, _ = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(status=500),
        breaker={"fail_max": 1, "reset_timeout": 0.5},
    )
    before = gw.metrics()
    assert before.value("proxy_breaker_state", provider=first) == 0
    assert gw.chat().headers["x-proxy-provider"] != first
    opened = gw.metrics()
    assert opened.value("proxy_breaker_state", provider=first) == 2
    assert (
        _delta(before, opened, "proxy_breaker_transitions_total", provider=first, state="open") == 1
    )
    let_time_pass(0.65)  # the breaker's reset timeout (the proxy's own clock)
    held = threading.Event()
    fake.script = Script(hold_headers=held)  # a successful probe, held while we look
    # gw.client is not shared across threads: the probe gets its own connection.
    probe_gw = Gateway(gw.url)
    probe = threading.Thread(target=probe_gw.chat)
    probe.start()
    try:
        assert fake.wait_until(lambda: fake.hits == 2, 3)
        half_open = gw.metrics()
        assert half_open.value("proxy_breaker_state", provider=first) == 1
    finally:
        held.set()
        probe.join(5)
        probe_gw.close()
    closed = gw.metrics()
    assert closed.value("proxy_breaker_state", provider=first) == 0
    for state in ("half-open", "closed"):
        assert (
            _delta(opened, closed, "proxy_breaker_transitions_total", provider=first, state=state)
            == 1
        )


def test_c4_metrics_4xx_and_429_keep_gauge_closed(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    scripts = {"bad": Script(status=400), "limit": Script(status=429, headers={"retry-after": "0"})}
    _, gw, first, _ = _pair(scripted, fake_openai, gateway, choose=lambda r: scripts[r.user_text()])
    before = gw.metrics()
    for _ in range(20):
        gw.chat(model="solo", content="bad")
        gw.chat(model="solo", content="limit")
    after = gw.metrics()
    assert after.value("proxy_breaker_state", provider=first) == 0
    assert _delta(before, after, "proxy_breaker_transitions_total", provider=first) == 0
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="client_error") == 20
    assert _delta(before, after, ATTEMPTS, provider=first, outcome="rate_limited") == 20


def test_d1_metrics_rejected_overload_counted(gateway: Make) -> None:
    gw = gateway(
        {"slowmock": {"type": "mock", "options": {"chunk_delay_ms": 100, "stream_chunks": 40}}},
        server={"max_in_flight": 1},
    )
    stream = gw.open_stream(content=" ".join(f"w{i}" for i in range(12)))
    assert stream.next_event() is not None
    before = gw.metrics()
    for _ in range(4):
        assert gw.chat().status_code == 503
    after = gw.metrics()
    assert _delta(before, after, "proxy_rejected_total", reason="overload") == 4
    stream.close()


def test_f1_metrics_rejected_draining_counted(tmp_path: Path) -> None:
    proxy = ProxyProcess(tmp_path, LIFECYCLE_CONFIG)
    gw = Gateway(proxy.url)
    try:
        proxy.wait_ready()
        stream = gw.open_stream(model="stream", content=PROMPT, timeout=15)
        assert stream.next_event() is not None  # keeps the drain busy until its deadline
        before = gw.metrics()
        proxy.proc.send_signal(signal.SIGTERM)
        # Until the drain has begun; a non-stream request is answered at once.
        assert wait_until(lambda: gw.chat(model="stream").status_code == 503, 2.0)
        after = gw.metrics()  # /metrics stays exempt while draining
        assert _delta(before, after, "proxy_rejected_total", reason="draining") >= 1
        stream.read_all()
        proxy.proc.wait(10)
    finally:
        gw.close()
        proxy.stop()


@pytest.mark.parametrize(
    "name",
    [
        "proxy_breaker_state",
        "proxy_breaker_transitions_total",
        "proxy_upstream_attempts_total",
        "proxy_client_disconnects_total",
        "proxy_rejected_total",
        "proxy_provider_auth_failures_total",
        "proxy_fallbacks_total",
    ],
)
def test_metrics_names_exposed(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, name: str
) -> None:
    _, gw, _, _ = _pair(scripted, fake_openai, gateway, Script(status=401))
    gw.chat()
    metrics = gw.metrics()
    family = name.removesuffix("_total")
    assert any(n == name or n.startswith(family) for n in metrics.names), sorted(metrics.names)
