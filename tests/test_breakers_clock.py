"""The breaker on one injected monotonic clock (issue 10): open, half-open, probe and close
are driven by `clock` alone (no wall clock that an NTP step could move), so tests need no
sleeps."""

from __future__ import annotations

import pytest

from proxy.breakers import ProviderHealth, State
from proxy.config import BreakerConfig
from proxy.errors import upstream_transport_error

FAILURE = upstream_transport_error("p", "server_error", "x")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _tripped(clock: Clock, **config: float) -> tuple[ProviderHealth, list[State]]:
    changes: list[State] = []
    settings = BreakerConfig(**{"fail_max": 2, "reset_timeout": 30.0, **config})  # type: ignore[arg-type]
    h = ProviderHealth("p", settings, lambda _name, state: changes.append(state), clock=clock)
    for _ in range(settings.fail_max):
        h.record_failure(h.admit(), FAILURE)
    return h, changes


def test_open_for_reset_timeout_on_the_injected_clock() -> None:
    clock = Clock()
    h, changes = _tripped(clock)
    assert changes == ["open"] and h.admit() == "open"
    clock.now += 29.5
    assert h.seconds_until_retry() == pytest.approx(0.5)
    assert h.is_unavailable() and h.admit() == "open"
    clock.now += 0.5
    assert not h.is_unavailable()
    assert h.admit() == "probe" and changes == ["open", "half-open"]


@pytest.mark.parametrize(
    ("threshold", "verdicts", "state"),
    [
        (1, ["ok"], "closed"),
        (2, ["ok"], "half-open"),  # one more probe success needed
        (2, ["ok", "ok"], "closed"),
        (2, ["ok", "fail"], "open"),  # any failed probe reopens
    ],
)
def test_success_threshold_counts_probe_successes(
    threshold: int, verdicts: list[str], state: State
) -> None:
    clock = Clock()
    h, _ = _tripped(clock, success_threshold=threshold)
    clock.now += 30
    for verdict in verdicts:
        probe = h.admit()
        assert probe == "probe"
        assert h.admit() == "open"  # one probe at a time
        if verdict == "ok":
            h.record_success(probe)
        else:
            h.record_failure(probe, FAILURE)
    assert h.state == state


def test_a_reopened_breaker_waits_a_full_reset_timeout_again() -> None:
    clock = Clock()
    h, _ = _tripped(clock)
    clock.now += 30
    h.record_failure(h.admit(), FAILURE)
    clock.now += 29
    assert h.admit() == "open"
    clock.now += 1
    assert h.admit() == "probe"


def test_late_verdicts_of_ordinary_attempts_do_not_touch_an_open_breaker() -> None:
    clock = Clock()
    h, changes = _tripped(clock)
    h.record_success("ok")  # began before the breaker opened, ended after
    h.record_failure("ok", FAILURE)
    assert h.state == "open" and changes == ["open"]


def test_a_success_resets_the_consecutive_failure_count() -> None:
    h = ProviderHealth("p", BreakerConfig(fail_max=2), clock=Clock())
    for _ in range(5):
        h.record_failure(h.admit(), FAILURE)
        h.record_success(h.admit())
    assert h.state == "closed"
