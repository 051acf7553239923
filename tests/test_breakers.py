"""Breaker logic: failures trip it, client outcomes never do, one half-open probe."""

from __future__ import annotations

from proxy.breakers import ProviderHealth
from proxy.config import BreakerConfig
from proxy.errors import upstream_transport_error


def health(fail_max: int = 3, reset: float = 30.0) -> ProviderHealth:
    return ProviderHealth("p", BreakerConfig(fail_max=fail_max, reset_timeout=reset))


def fail(h: ProviderHealth) -> None:
    admission = h.admit()
    h.record_failure(admission, upstream_transport_error("p", "server_error", "x"))


def test_trips_after_fail_max_and_skips() -> None:
    h = health()
    for _ in range(3):
        fail(h)
    assert h.state == "open"
    assert h.admit() == "open"
    assert 29 < h.seconds_until_retry() <= 30


def test_release_does_not_count() -> None:
    h = health()
    for _ in range(10):
        h.release(h.admit())
    assert h.state == "closed" and h.breaker.fail_counter == 0


def test_single_probe_when_half_open() -> None:
    h = health(fail_max=1, reset=0)
    fail(h)
    assert h.admit() == "probe"
    assert [h.admit() for _ in range(5)] == ["open"] * 5
    h.record_success("probe")
    assert h.state == "closed"
    assert h.admit() == "ok"


def test_failed_probe_reopens() -> None:
    h = health(fail_max=1, reset=0)
    fail(h)
    probe = h.admit()
    h.record_failure(probe, upstream_transport_error("p", "timeout", "x"))
    assert h.state == "open"


def test_cancelled_probe_frees_the_slot() -> None:
    h = health(fail_max=1, reset=0)
    fail(h)
    h.release(h.admit())
    assert h.admit() == "probe"


def test_cooldown() -> None:
    now = [100.0]
    h = ProviderHealth("p", BreakerConfig(), clock=lambda: now[0])
    assert h.start_cooldown(7) == 7
    assert h.admit() == "cooldown"
    now[0] += 7.01
    assert h.admit() == "ok"
    assert h.start_cooldown(10**9) == 300
    assert h.start_cooldown(None) == 1.0
