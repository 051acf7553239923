"""Per-provider health: a pybreaker circuit breaker driven correctly from asyncio, plus the
429 cooldown.

design.md §4: pybreaker's decorator never records failures of an `async def`, and in
half-open it lets every concurrent caller through. So the attempt runs outside pybreaker;
its verdict is reported afterwards through `breaker.call()` with a tiny sync function, and a
single-probe gate of our own admits exactly one request while half-open. A cancelled
attempt or a client error reports nothing (it says nothing about the provider's health).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import pybreaker

from proxy.config import BreakerConfig

log = logging.getLogger("proxy.breakers")

Admission = Literal["ok", "probe", "open", "cooldown"]
State = Literal["closed", "half-open", "open"]
DEFAULT_COOLDOWN = 1.0  # a 429 without a usable Retry-After
MAX_COOLDOWN = 300.0


class _TransitionLog(pybreaker.CircuitBreakerListener):
    def __init__(self, on_change: Callable[[str, State], None] | None) -> None:
        self._on_change = on_change

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        old = old_state.name if old_state else "none"
        log.warning("breaker of provider '%s': %s -> %s", cb.name, old, new_state.name)
        if self._on_change is not None:
            self._on_change(cb.name or "", new_state.name)  # type: ignore[arg-type]


class ProviderHealth:
    def __init__(
        self,
        provider: str,
        config: BreakerConfig,
        on_change: Callable[[str, State], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_cooldown: float = MAX_COOLDOWN,
    ) -> None:
        self.provider = provider
        self._clock = clock
        self._max_cooldown = max_cooldown
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=config.fail_max,
            reset_timeout=config.reset_timeout,
            success_threshold=config.success_threshold,
            throw_new_error_on_trip=False,
            listeners=[_TransitionLog(on_change)],
            name=provider,
        )
        self._probe_taken = False
        self._cooldown_until = 0.0

    @property
    def state(self) -> State:
        return self.breaker.current_state  # type: ignore[return-value]

    def admit(self) -> Admission:
        """May a request try this provider now? 'probe' is the one half-open trial."""
        if self._clock() < self._cooldown_until:
            return "cooldown"
        state = self.breaker.current_state
        if state == pybreaker.STATE_CLOSED:
            return "ok"
        if state == pybreaker.STATE_OPEN:
            if self.seconds_until_retry() > 0:
                return "open"
            self.breaker.half_open()
        if self._probe_taken:
            return "open"
        self._probe_taken = True
        return "probe"

    def record_success(self, admission: Admission) -> None:
        self._report(admission, None)

    def record_failure(self, admission: Admission, exc: Exception) -> None:
        self._report(admission, exc)

    def release(self, admission: Admission) -> None:
        """The attempt ended without a verdict (client went away, client error)."""
        if admission == "probe":
            self._probe_taken = False

    def start_cooldown(self, seconds: float | None) -> float:
        """429: keep requests away for Retry-After (capped); returns the cooldown applied."""
        delay = DEFAULT_COOLDOWN if seconds is None else min(max(seconds, 0.0), self._max_cooldown)
        self._cooldown_until = max(self._cooldown_until, self._clock() + delay)
        return delay

    def is_unavailable(self) -> bool:
        """Open (or cooling down) right now, without taking a probe slot."""
        return self.seconds_until_retry() > 0

    def seconds_until_retry(self) -> float:
        """How long until this provider may be tried again (0 if it may be now)."""
        wait = max(0.0, self._cooldown_until - self._clock())
        if self.breaker.current_state == pybreaker.STATE_OPEN:
            opened_at = self.breaker._state_storage.opened_at  # no public accessor
            if opened_at is not None:
                elapsed = (datetime.now(UTC) - opened_at).total_seconds()
                wait = max(wait, self.breaker.reset_timeout - elapsed)
        return wait

    def _report(self, admission: Admission, exc: Exception | None) -> None:
        if admission == "probe":
            self._probe_taken = False
        elif self.breaker.current_state != pybreaker.STATE_CLOSED:
            return  # a late verdict from before the breaker opened says nothing new
        try:
            self.breaker.call(_raise, exc)
        except pybreaker.CircuitBreakerError:
            pass
        except Exception as reported:
            if reported is not exc:
                raise


def _raise(exc: Exception | None) -> None:
    if exc is not None:
        raise exc
