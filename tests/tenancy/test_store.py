"""The state interface's semantics, the same table on the memory and the Redis backend."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid

import pytest

from proxy.tenancy.memory_store import MemoryStore
from proxy.tenancy.redis_store import RedisStore
from proxy.tenancy.store import Ask, Decision, Quota, Settlement, Store
from tests.redis_server import RedisServer
from tests.tenancy.clock import Clock
from tests.tenancy.conftest import START

_TICKETS = itertools.count()


def ask(
    quota: Quota, tokens: int = 0, micros: int = 0, key: str = "team", lease_ms: int = 600_000
) -> Ask:
    return Ask(key, quota, tokens, micros, "m2023-11", 0, lease_ms, f"t{next(_TICKETS)}")


def settle(a: Ask, d: Decision, requests: int, tokens: int, micros: int) -> Settlement:
    return Settlement(a.key, a.ticket, d.bucket, a.period, 0, requests, tokens, micros)


async def test_rpm_counts_a_sliding_minute(store_and_clock: tuple[Store, Clock]) -> None:
    store, clock = store_and_clock
    q = Quota(rpm=3)
    assert (await store.reserve(ask(q))).refused is None
    clock.advance(30.5)
    assert (await store.reserve(ask(q))).refused is None
    third = await store.reserve(ask(q))
    assert (third.refused, third.requests_used) == (None, 3)
    assert third.requests_reset_ms == 91_000 - 30_500  # its own bucket (30) stops counting at 91 s
    clock.advance(29.4)  # 59.9 s after the first
    refused = await store.reserve(ask(q))
    assert refused.refused == "rpm"
    assert refused.retry_after_ms == 1100  # the first request's bucket leaves the window at 61 s
    clock.advance(1.1)
    assert (await store.reserve(ask(q))).refused is None
    assert (await store.reserve(ask(q))).refused == "rpm"


@pytest.mark.parametrize(
    ("quota", "first", "second", "refused"),
    [
        (Quota(tpm=100), ask(Quota(tpm=100), tokens=60), ask(Quota(tpm=100), tokens=41), "tpm"),
        (Quota(tpm=100), ask(Quota(tpm=100), tokens=60), ask(Quota(tpm=100), tokens=40), None),
        (Quota(in_flight=1), ask(Quota(in_flight=1)), ask(Quota(in_flight=1)), "in_flight"),
        (
            Quota(budget_micros=1000),
            ask(Quota(budget_micros=1000), micros=600),
            ask(Quota(budget_micros=1000), micros=401),
            "budget",
        ),
    ],
)
async def test_each_limit_refuses_what_does_not_fit(
    store_and_clock: tuple[Store, Clock], quota: Quota, first: Ask, second: Ask, refused: str | None
) -> None:
    store, _ = store_and_clock
    assert (await store.reserve(first)).refused is None
    assert (await store.reserve(second)).refused == refused


async def test_a_refusal_takes_nothing(store_and_clock: tuple[Store, Clock]) -> None:
    store, _ = store_and_clock
    q = Quota(rpm=10, tpm=1000, in_flight=1)
    assert (await store.reserve(ask(q, tokens=10, micros=5))).refused is None
    assert (await store.reserve(ask(q, tokens=10, micros=5))).refused == "in_flight"
    usage = await store.usage("team", "m2023-11")
    assert (usage.requests, usage.tokens, usage.in_flight, usage.spent_micros) == (1, 10, 1, 5)


async def test_release_gives_everything_back(store_and_clock: tuple[Store, Clock]) -> None:
    store, _ = store_and_clock
    q = Quota(rpm=1, tpm=100, in_flight=1, budget_micros=100)
    a = ask(q, tokens=100, micros=100)
    d = await store.reserve(a)
    assert d.refused is None
    await store.settle(settle(a, d, -1, -100, -100))
    assert await store.usage("team", "m2023-11") == type(await store.usage("x", "y"))(0, 0, 0, 0)
    assert (await store.reserve(ask(q, tokens=100, micros=100))).refused is None


async def test_reconcile_charges_actual_usage(store_and_clock: tuple[Store, Clock]) -> None:
    store, _ = store_and_clock
    q = Quota(tpm=1000, budget_micros=10_000)
    a = ask(q, tokens=800, micros=8000)
    d = await store.reserve(a)
    await store.settle(settle(a, d, 0, 150 - 800, 1500 - 8000))  # used 150 tokens, $0.0015
    usage = await store.usage("team", "m2023-11")
    assert (usage.requests, usage.tokens, usage.in_flight, usage.spent_micros) == (1, 150, 0, 1500)
    assert (await store.reserve(ask(q, tokens=850, micros=8500))).refused is None


async def test_an_unsettled_in_flight_slot_frees_itself_after_its_lease(
    store_and_clock: tuple[Store, Clock],
) -> None:
    store, clock = store_and_clock
    q = Quota(in_flight=1)
    assert (await store.reserve(ask(q, lease_ms=5000))).refused is None  # its replica died
    assert (await store.reserve(ask(q))).refused == "in_flight"
    clock.advance(5.001)
    assert (await store.reserve(ask(q))).refused is None


async def test_keys_are_counted_apart(store_and_clock: tuple[Store, Clock]) -> None:
    store, _ = store_and_clock
    assert (await store.reserve(ask(Quota(rpm=1), key="a"))).refused is None
    assert (await store.reserve(ask(Quota(rpm=1), key="b"))).refused is None
    assert (await store.reserve(ask(Quota(rpm=1), key="a"))).refused == "rpm"


async def test_cooldown_is_set_and_runs_out(store_and_clock: tuple[Store, Clock]) -> None:
    store, _ = store_and_clock
    assert await store.cooldown("openai") == 0.0
    await store.set_cooldown("openai", 5)
    left = await store.cooldown("openai")
    assert 4.0 < left <= 5.0
    assert await store.cooldown("claude") == 0.0


async def _race(stores: list[Store], n: int, quota: Quota) -> int:
    asks = [(stores[i % len(stores)], ask(quota)) for i in range(n)]
    decisions = await asyncio.gather(*(s.reserve(a) for s, a in asks))
    return sum(d.refused is None for d in decisions)


async def test_concurrent_reservations_never_exceed_the_limit_memory() -> None:
    assert await _race([MemoryStore()], 200, Quota(rpm=50)) == 50


async def test_concurrent_reservations_across_replicas_never_exceed_the_limit(
    shared_redis: RedisServer,
) -> None:
    prefix = f"race-{uuid.uuid4().hex}:"
    # Three "replicas": three clients with their own pools, on the server's clock.
    stores: list[Store] = [RedisStore(shared_redis.url, prefix, 2000) for _ in range(3)]
    try:
        assert await _race(stores, 300, Quota(rpm=60, in_flight=1000)) == 60
        usage = await stores[0].usage("team", "m2023-11")
        assert (usage.requests, usage.in_flight) == (60, 60)
    finally:
        for s in stores:
            await s.close()


@pytest.mark.parametrize("replicas", [1, 3])
async def test_no_minute_ever_holds_more_than_rpm_whatever_the_spread(
    shared_redis: RedisServer, replicas: int
) -> None:
    """The acceptance line: rpm 60 across replicas, requests at random moments over 3 minutes
    in bursts and trickles; every 60 s span starting at an accepted request holds <= 60."""
    rng = random.Random(11)
    clock = Clock(START + 0.123)
    prefix = f"spread-{uuid.uuid4().hex}:"
    stores: list[Store] = (
        [RedisStore(shared_redis.url, prefix, 2000, clock=clock) for _ in range(replicas)]
        if replicas > 1
        else [MemoryStore(clock)]
    )
    accepted: list[float] = []
    try:
        for _ in range(600):
            clock.advance(rng.choice([0.0, 0.0, 0.001, 0.05, 0.3, 0.9, 2.5]))
            store = rng.choice(stores)
            if (await store.reserve(ask(Quota(rpm=60)))).refused is None:
                accepted.append(clock.now)
    finally:
        for s in stores:
            await s.close()
    worst = max(sum(1 for u in accepted if t <= u < t + 60) for t in accepted)
    assert 55 <= worst <= 60  # never above the limit, and the limit is actually reachable
