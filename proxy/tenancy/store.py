"""The state interface the limiter and the router's shared cooldowns talk to.

One small async protocol with two backends (memory_store.py, redis_store.py) and the
open/closed outage policy around the Redis one (failover.py). A reservation is checked and
taken in one step (`reserve`), corrected once at the end (`settle`); the store never decides
what a request costs, the limiter does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

LimitName = Literal["rpm", "tpm", "in_flight", "budget"]
StoreOp = Literal["reserve", "settle", "usage", "cooldown_set", "cooldown_get"]


class StateUnavailable(Exception):
    """The shared store did not answer within its bound; with `on_unavailable: closed` the edge
    answers 503 service_unavailable. The message names the operation, never the URL."""

    def __init__(self, op: StoreOp) -> None:
        super().__init__(f"shared state backend unavailable during {op}")
        self.op = op


@dataclass(frozen=True, slots=True)
class Quota:
    """A key's limits as the store checks them; None is unlimited. Money in micro-dollars."""

    rpm: int | None = None
    tpm: int | None = None
    in_flight: int | None = None
    budget_micros: int | None = None

    def divided(self, parts: int) -> Quota:
        """This replica's share while the shared store is down (at least 1 of each)."""

        def share(v: int | None) -> int | None:
            return None if v is None else max(1, v // parts)

        return Quota(
            share(self.rpm), share(self.tpm), share(self.in_flight), share(self.budget_micros)
        )


@dataclass(slots=True)  # not frozen: built per request, and frozen __init__ is slower
class Ask:
    """One reservation: everything is taken or nothing is."""

    key: str  # tenant name
    quota: Quota
    tokens: int
    micros: int
    period: str  # budget period id, e.g. "m2026-11"
    period_ttl_s: int  # how long the period's spend is kept; 0: forever
    lease_ms: int  # an in-flight slot not settled by then frees itself (crashed replica)
    ticket: str  # unique per reservation


@dataclass(slots=True)  # not frozen: built per request, and frozen __init__ is slower
class Decision:
    refused: LimitName | None  # None: reserved
    retry_after_ms: int  # when refused: until the ask could fit
    requests_used: int  # in the sliding minute, this request included when reserved
    requests_reset_ms: int
    tokens_used: int
    tokens_reset_ms: int
    bucket: int  # the window bucket the reservation went into
    local: bool = False  # reserved in the local fallback, not in the shared store

    def as_local(self) -> Decision:
        return replace(self, local=True)


@dataclass(slots=True)  # not frozen: built per request, and frozen __init__ is slower
class Settlement:
    """The one correction of a reservation: actual minus reserved, and the in-flight slot back."""

    key: str
    ticket: str
    bucket: int
    period: str
    period_ttl_s: int
    requests_delta: int  # -1 on release (the request is given back), 0 on reconcile
    tokens_delta: int
    micros_delta: int
    local: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    """For /admin/keys."""

    requests: int
    tokens: int
    in_flight: int
    spent_micros: int


class Store(Protocol):
    async def reserve(self, ask: Ask) -> Decision: ...
    async def settle(self, settlement: Settlement) -> None: ...
    async def usage(self, key: str, period: str) -> Usage: ...
    async def set_cooldown(self, provider: str, seconds: float) -> None: ...
    async def cooldown(self, provider: str) -> float: ...  # seconds left, 0.0 when none
    async def close(self) -> None: ...


class BackendErrors:
    """Counts of failed backend calls by operation; `hook` feeds
    proxy_state_backend_errors_total{op} once the edge wires metrics in."""

    __slots__ = ("counts", "hook")

    def __init__(self, hook: Callable[[StoreOp], None] | None = None) -> None:
        self.counts: dict[StoreOp, int] = {}
        self.hook = hook

    def record(self, op: StoreOp) -> None:
        self.counts[op] = self.counts.get(op, 0) + 1
        if self.hook is not None:
            self.hook(op)
