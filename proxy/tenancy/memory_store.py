"""The memory backend: counters in this process only (the default; one replica).

Also the local fallback while Redis is down (failover.py). Bounded: per key two windows of at
most 61 buckets, one lease per in-flight request, the spend of the two newest periods.
Single-threaded asyncio and no await inside a method: each call is atomic by construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.tenancy import windows
from proxy.tenancy.store import Ask, Decision, LimitName, Settlement, Usage

_KEPT_PERIODS = 2  # the current budget period and the one before (late settlements)


@dataclass(slots=True)
class _Counters:
    requests: windows.Window = field(default_factory=windows.Window)
    tokens: windows.Window = field(default_factory=windows.Window)
    leases: dict[str, int] = field(default_factory=dict)  # ticket -> expiry, ms
    spent: dict[str, int] = field(default_factory=dict)  # period -> micro-dollars
    swept_ms: int = 0  # last time expired leases were dropped


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._keys: dict[str, _Counters] = {}
        self._cooldowns: dict[str, float] = {}  # provider -> until, clock seconds

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def reserve(self, ask: Ask) -> Decision:
        now = self._now_ms()
        c = self._keys.get(ask.key)
        if c is None:
            c = self._keys[ask.key] = _Counters()
        requests = c.requests.live_total(now)
        tokens = c.tokens.live_total(now)
        # Exact where in-flight is limited; otherwise once a bucket, so leases stay bounded.
        if ask.quota.in_flight is not None or now - c.swept_ms >= windows.BUCKET_MS:
            c.swept_ms = now
            for ticket in [t for t, until in c.leases.items() if until <= now]:
                del c.leases[ticket]
        refused, retry = self._check(ask, c, now, requests, tokens)
        bucket = windows.bucket_of(now)
        if refused is None:
            c.requests.add(bucket, 1)
            c.tokens.add(bucket, ask.tokens)
            c.leases[ask.ticket] = now + ask.lease_ms
            self._spend(c, ask.period, ask.micros)
            requests, tokens = requests + 1, tokens + ask.tokens
        return Decision(
            refused,
            retry,
            requests,
            c.requests.reset_ms(now),
            tokens,
            c.tokens.reset_ms(now),
            bucket,
        )

    @staticmethod
    def _check(
        ask: Ask, c: _Counters, now: int, requests: int, tokens: int
    ) -> tuple[LimitName | None, int]:
        q = ask.quota
        if q.rpm is not None and requests + 1 > q.rpm:
            return "rpm", windows.retry_ms(c.requests.buckets, now, requests, 1, q.rpm)
        if q.tpm is not None and tokens + ask.tokens > q.tpm:
            return "tpm", windows.retry_ms(c.tokens.buckets, now, tokens, ask.tokens, q.tpm)
        if q.in_flight is not None and len(c.leases) + 1 > q.in_flight:
            return "in_flight", windows.BUCKET_MS
        if (
            q.budget_micros is not None
            and c.spent.get(ask.period, 0) + ask.micros > q.budget_micros
        ):
            return "budget", 0
        return None, 0

    @staticmethod
    def _spend(c: _Counters, period: str, micros: int) -> None:
        if period not in c.spent:
            for old in list(c.spent)[: max(0, len(c.spent) - _KEPT_PERIODS + 1)]:
                del c.spent[old]
        c.spent[period] = max(0, c.spent.get(period, 0) + micros)

    async def settle(self, s: Settlement) -> None:
        c = self._keys.get(s.key)
        if c is None:
            return
        c.leases.pop(s.ticket, None)
        now = self._now_ms()
        c.requests.live_total(now)
        c.tokens.live_total(now)
        c.requests.adjust(s.bucket, s.requests_delta)
        c.tokens.adjust(s.bucket, s.tokens_delta)
        if s.micros_delta and s.period in c.spent:
            c.spent[s.period] = max(0, c.spent[s.period] + s.micros_delta)

    async def usage(self, key: str, period: str) -> Usage:
        c = self._keys.get(key)
        if c is None:
            return Usage(0, 0, 0, 0)
        now = self._now_ms()
        live = sum(1 for until in c.leases.values() if until > now)
        return Usage(
            c.requests.live_total(now),
            c.tokens.live_total(now),
            live,
            c.spent.get(period, 0),
        )

    async def set_cooldown(self, provider: str, seconds: float) -> None:
        self._cooldowns[provider] = self._clock() + seconds

    async def cooldown(self, provider: str) -> float:
        return max(0.0, self._cooldowns.get(provider, 0.0) - self._clock())

    async def close(self) -> None:
        return None
