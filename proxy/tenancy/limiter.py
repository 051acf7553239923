"""Reserve -> reconcile -> release, for a tenant's rpm, tpm, in-flight slots and budget.

Before the call: `reserve` takes one request, the token estimate (prompt estimate + the
request's max output tokens) and its price, all or nothing, or raises LimitExceeded. After:
the Reservation is the one owner of what was taken; `reconcile` charges actual usage and gives
back the rest, `release` (any failure, cancellation, disconnect) gives everything back. Both
are idempotent, so `finally: await reservation.release()` after a reconcile is a no-op.
Budget overshoot is bounded by what the reservations allow: a reservation must fit the
remaining budget, so only usage above its own estimate can exceed it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import time
from collections.abc import Callable
from typing import Literal

from proxy.config import BudgetPeriod
from proxy.tenancy.headers import Header, duration, rate_headers, retry_after_seconds
from proxy.tenancy.policy import Tenant
from proxy.tenancy.store import Ask, Decision, LimitName, Settlement, Store

_DAY = 86_400
_TICKETS = itertools.count()
_PROCESS = os.urandom(6).hex()  # tickets are unique across replicas sharing one Redis


class LimitExceeded(Exception):
    """A 429 for the edge: rate_limit_error, or insufficient_quota for a spent budget.
    The message names the limit and the key's name, never the key."""

    def __init__(
        self, limit: LimitName, message: str, retry_after: int, headers: tuple[Header, ...]
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.retry_after = retry_after
        self.headers = headers

    @property
    def error_type(self) -> Literal["rate_limit_error", "insufficient_quota"]:
        return "insufficient_quota" if self.limit == "budget" else "rate_limit_error"

    @property
    def code(self) -> Literal["rate_limit_exceeded", "insufficient_quota"]:
        return "insufficient_quota" if self.limit == "budget" else "rate_limit_exceeded"


class Reservation:
    __slots__ = ("_ask", "_decision", "_done", "_store", "headers")

    def __init__(
        self, store: Store, ask: Ask, decision: Decision, headers: tuple[Header, ...]
    ) -> None:
        self._store = store
        self._ask = ask
        self._decision = decision
        self._done = False
        self.headers = headers  # x-ratelimit-* for the answer

    @property
    def settled(self) -> bool:
        return self._done

    async def reconcile(self, tokens: int, usd: float) -> None:
        """Charge what the request actually used; the rest of the reservation goes back."""
        await self._settle(0, tokens - self._ask.tokens, micros(usd) - self._ask.micros)

    async def keep(self) -> None:
        """Charge the reservation as it stands (an answer whose usage is unknown)."""
        await self._settle(0, 0, 0)

    async def release(self) -> None:
        """Give everything back: the request did not get an answer."""
        await self._settle(-1, -self._ask.tokens, -self._ask.micros)

    async def _settle(self, requests: int, tokens: int, money: int) -> None:
        if self._done:
            return
        self._done = True  # before the await: a cancelled settle is never sent twice
        a = self._ask
        await self._store.settle(
            Settlement(
                a.key,
                a.ticket,
                self._decision.bucket,
                a.period,
                a.period_ttl_s,
                requests,
                tokens,
                money,
                self._decision.local,
            )
        )


class Limiter:
    def __init__(self, store: Store, lease_s: float, wall: Callable[[], float] = time.time) -> None:
        self._store = store
        self._lease_ms = int(lease_s * 1000)  # longer than any request may run
        self._wall = wall
        self._periods: dict[Literal["day", "month"], tuple[str, float]] = {}  # kind -> (id, end)

    def _period(self, kind: BudgetPeriod, now: float) -> tuple[str, int]:
        """period_of, with the calendar computed once per period rather than per request."""
        if kind == "total":
            return "total", 0
        cached = self._periods.get(kind)
        if cached is None or now >= cached[1]:
            self._periods[kind] = cached = period_bounds(kind, now)
        return cached[0], int(cached[1] - now) + _DAY

    async def reserve(self, tenant: Tenant, tokens: int, usd: float) -> Reservation:
        budget = tenant.key.budget
        period, ttl = self._period(budget.period if budget else "month", self._wall())
        ask = Ask(
            key=tenant.name,
            quota=tenant.quota,
            tokens=tokens,
            micros=micros(usd),
            period=period,
            period_ttl_s=ttl,
            lease_ms=self._lease_ms,
            ticket=f"{_PROCESS}-{next(_TICKETS)}",
        )
        decision = await self._store.reserve(ask)
        headers = rate_headers(
            "requests", tenant.quota.rpm, decision.requests_used, decision.requests_reset_ms
        ) + rate_headers("tokens", tenant.quota.tpm, decision.tokens_used, decision.tokens_reset_ms)
        if decision.refused is not None:
            raise _refusal(tenant, ask, decision, headers)
        return Reservation(self._store, ask, decision, headers)


def micros(usd: float) -> int:
    return int(-(-usd * 1_000_000 // 1))  # rounded up: never under-reserve money


def period_of(period: BudgetPeriod, now: float) -> tuple[str, int]:
    """The UTC calendar period's id and how long its spend must be kept (its rest + a day)."""
    if period == "total":
        return "total", 0
    ident, end = period_bounds(period, now)
    return ident, int(end - now) + _DAY


def period_bounds(period: Literal["day", "month"], now: float) -> tuple[str, float]:
    """The id of the UTC day or month holding `now`, and the instant it ends."""
    t = dt.datetime.fromtimestamp(now, dt.UTC)
    if period == "day":
        end = dt.datetime(t.year, t.month, t.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
        return f"d{t:%Y-%m-%d}", end.timestamp()
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return f"m{t:%Y-%m}", dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()


def _refusal(
    tenant: Tenant, ask: Ask, decision: Decision, headers: tuple[Header, ...]
) -> LimitExceeded:
    name, q, limit = tenant.name, tenant.quota, decision.refused
    assert limit is not None
    wait = retry_after_seconds(decision.retry_after_ms)
    if limit == "budget":
        b = tenant.key.budget
        period = "in total" if b is None or b.period == "total" else f"this {b.period} (UTC)"
        message = (
            f"Budget of key '{name}' is spent: ${b.usd if b else 0:g} {period}. "
            "Raise the key's budget or wait for the next period."
        )
        # The openai SDK retries every 429 unless told not to: a spent budget will not heal.
        return LimitExceeded(limit, message, wait, (*headers, (b"x-should-retry", b"false")))
    if limit == "tpm" and q.tpm is not None and ask.tokens > q.tpm:
        message = (
            f"Request too large for key '{name}': it may use {ask.tokens} tokens, the key's "
            f"limit is {q.tpm} tokens per minute. Lower max_tokens or shorten the prompt."
        )
        return LimitExceeded(limit, message, wait, (*headers, (b"x-should-retry", b"false")))
    what = {
        "rpm": f"{q.rpm} requests per minute",
        "tpm": f"{q.tpm} tokens per minute",
        "in_flight": f"{q.in_flight} requests in flight",
    }[limit]
    message = (
        f"Rate limit reached for key '{name}': {what}. "
        f"Please try again in {duration(decision.retry_after_ms)}."
    )
    return LimitExceeded(limit, message, wait, (*headers, (b"retry-after", str(wait).encode())))
