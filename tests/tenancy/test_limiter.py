"""Reserve -> reconcile -> release, the 429s it raises and the headers it gives."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from typing import Literal

import httpx
import openai
import pytest

from proxy.config import Budget, BudgetPeriod, KeyLimits, NamedKey, Secret
from proxy.tenancy.limiter import Limiter, LimitExceeded, period_of
from proxy.tenancy.memory_store import MemoryStore
from proxy.tenancy.policy import Tenant, tenant_of
from proxy.tenancy.redis_store import RedisStore
from proxy.tenancy.store import Store
from tests.redis_server import RedisServer
from tests.tenancy.clock import Clock

KEY = "sk-search-team-secret"


NO_LIMITS = KeyLimits()


def tenant(limits: KeyLimits = NO_LIMITS, budget: Budget | None = None) -> Tenant:
    return tenant_of(NamedKey("search-team", Secret(KEY), limits=limits, budget=budget))


def limiter_on(store: Store, clock: Clock) -> Limiter:
    return Limiter(store, lease_s=660, wall=clock)


async def test_headers_carry_openai_meaning(store_and_clock: tuple[Store, Clock]) -> None:
    store, clock = store_and_clock
    limiter = limiter_on(store, clock)
    t = tenant(KeyLimits(rpm=60, tpm=1000))
    await limiter.reserve(t, 100, 0)
    clock.advance(0.25)
    res = await limiter.reserve(t, 300, 0)
    assert dict(res.headers) == {
        b"x-ratelimit-limit-requests": b"60",
        b"x-ratelimit-remaining-requests": b"58",
        b"x-ratelimit-reset-requests": b"1m0.75s",  # until both requests have left the window
        b"x-ratelimit-limit-tokens": b"1000",
        b"x-ratelimit-remaining-tokens": b"600",
        b"x-ratelimit-reset-tokens": b"1m0.75s",
    }


async def test_no_headers_without_limits() -> None:
    clock = Clock()
    res = await limiter_on(MemoryStore(clock), clock).reserve(tenant(), 10, 0)
    assert res.headers == ()


@pytest.mark.parametrize(
    ("limits", "budget", "tokens", "usd", "limit", "error_type", "retry_header", "words"),
    [
        (
            KeyLimits(rpm=1),
            None,
            1,
            0,
            "rpm",
            "rate_limit_error",
            b"retry-after",
            "1 requests per minute",
        ),
        (
            KeyLimits(tpm=150),
            None,
            100,
            0,
            "tpm",
            "rate_limit_error",
            b"retry-after",
            "150 tokens per minute",
        ),
        (
            KeyLimits(max_in_flight=1),
            None,
            1,
            0,
            "in_flight",
            "rate_limit_error",
            b"retry-after",
            "1 requests in flight",
        ),
        (
            KeyLimits(),
            Budget(0.01, "month"),
            1,
            0.006,
            "budget",
            "insufficient_quota",
            b"x-should-retry",
            "$0.01 this month",
        ),
    ],
)
async def test_the_second_request_is_refused_with_a_named_limit(
    store_and_clock: tuple[Store, Clock],
    limits: KeyLimits,
    budget: Budget | None,
    tokens: int,
    usd: float,
    limit: str,
    error_type: str,
    retry_header: bytes,
    words: str,
) -> None:
    store, clock = store_and_clock
    limiter = limiter_on(store, clock)
    t = tenant(limits, budget)
    await limiter.reserve(t, tokens, usd)
    with pytest.raises(LimitExceeded) as info:
        await limiter.reserve(t, tokens, usd)
    err = info.value
    assert (err.limit, err.error_type) == (limit, error_type)
    assert err.code == ("insufficient_quota" if limit == "budget" else "rate_limit_exceeded")
    assert "'search-team'" in err.message and words in err.message and KEY not in err.message
    assert retry_header in dict(err.headers) and err.retry_after >= 1


async def test_a_request_larger_than_tpm_is_not_retryable() -> None:
    clock = Clock()
    limiter = limiter_on(MemoryStore(clock), clock)
    with pytest.raises(LimitExceeded, match="Request too large") as info:
        await limiter.reserve(tenant(KeyLimits(tpm=100)), 101, 0)
    assert dict(info.value.headers)[b"x-should-retry"] == b"false"


@pytest.mark.parametrize(
    ("header", "retries"), [(b"retry-after", True), (b"x-should-retry", False)]
)
def test_the_openai_sdk_reads_our_429_as_intended(header: bytes, retries: bool) -> None:
    """rate_limit_error: the SDK backs off and retries; insufficient_quota: it gives up."""
    value = "1" if header == b"retry-after" else "false"
    response = httpx.Response(429, headers={header.decode(): value})
    client = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    assert client._should_retry(response) is retries


Outcome = Literal["answered", "failed", "cancelled"]


async def _one_request(
    limiter: Limiter, t: Tenant, outcome: Outcome, reserved: asyncio.Event
) -> None:
    res = await limiter.reserve(t, 100, 0.01)
    try:  # the owner's shape the edge will use
        reserved.set()
        if outcome == "failed":
            raise ConnectionError("upstream went away")
        if outcome == "cancelled":
            await asyncio.Event().wait()
        await res.reconcile(40, 0.004)
    finally:
        await res.release()  # a no-op after reconcile


@pytest.mark.parametrize(
    ("outcome", "requests", "tokens", "micros"),
    [("answered", 1, 40, 4000), ("failed", 0, 0, 0), ("cancelled", 0, 0, 0)],
)
async def test_the_reservation_is_settled_on_every_path(
    store_and_clock: tuple[Store, Clock], outcome: Outcome, requests: int, tokens: int, micros: int
) -> None:
    store, clock = store_and_clock
    limiter = limiter_on(store, clock)
    t = tenant(KeyLimits(rpm=10, tpm=1000, max_in_flight=1), Budget(1, "total"))
    reserved = asyncio.Event()
    task = asyncio.create_task(_one_request(limiter, t, outcome, reserved))
    await asyncio.wait_for(reserved.wait(), 5)
    if outcome == "cancelled":
        task.cancel()
    with (
        pytest.raises((ConnectionError, asyncio.CancelledError))
        if outcome != "answered"
        else contextlib.nullcontext()
    ):
        await asyncio.wait_for(task, 5)
    usage = await store.usage("search-team", "total")
    assert (usage.requests, usage.tokens, usage.in_flight, usage.spent_micros) == (
        requests,
        tokens,
        0,
        micros,
    )


@pytest.mark.parametrize(
    ("period", "at", "expected"),
    [
        ("day", dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC), ("d2026-11-30", 12 * 3600 + 86400)),
        ("month", dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC), ("m2026-11", 12 * 3600 + 86400)),
        ("month", dt.datetime(2026, 12, 15, tzinfo=dt.UTC), ("m2026-12", 18 * 86400)),
        ("total", dt.datetime(2026, 12, 15, tzinfo=dt.UTC), ("total", 0)),
    ],
)
def test_budget_periods_are_utc_calendar_periods(
    period: BudgetPeriod, at: dt.datetime, expected: tuple[str, int]
) -> None:
    assert period_of(period, at.timestamp()) == expected


async def test_a_budget_burst_across_replicas_stops_within_the_reservations(
    shared_redis: RedisServer,
) -> None:
    """$0.01 budget, 60 concurrent requests reserving $0.001 each on three replicas: exactly
    ten fit; each then uses less than it reserved, so the spend stays under the budget."""
    prefix = f"budget-{uuid.uuid4().hex}:"
    stores = [RedisStore(shared_redis.url, prefix, 2000) for _ in range(3)]
    t = tenant(budget=Budget(0.01, "day"))
    try:
        now = time.time()  # one wall clock: the test cannot straddle midnight
        limiters = [Limiter(s, lease_s=660, wall=lambda: now) for s in stores]
        outcomes = await asyncio.gather(
            *(limiters[i % 3].reserve(t, 100, 0.001) for i in range(60)), return_exceptions=True
        )
        granted = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, LimitExceeded)]
        assert (len(granted), len(refused)) == (10, 50)
        assert {r.error_type for r in refused} == {"insufficient_quota"}
        for reservation in granted:
            await reservation.reconcile(80, 0.0008)
        period, _ = period_of("day", now)
        spent = (await stores[0].usage("search-team", period)).spent_micros
        assert spent == 8000 <= 10_000
    finally:
        for s in stores:
            await s.close()
