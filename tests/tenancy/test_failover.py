"""on_unavailable open/closed around a real Redis that goes away and comes back."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from proxy.config.state import StateConfig
from proxy.config.values import Secret
from proxy.tenancy.failover import FailoverStore, build_store
from proxy.tenancy.memory_store import MemoryStore
from proxy.tenancy.redis_store import RedisStore
from proxy.tenancy.store import Quota, Settlement, StateUnavailable
from tests.redis_server import RedisServer
from tests.tenancy.test_redis_store import NO_HANG
from tests.tenancy.test_store import ask


def failover(server: RedisServer, policy: str, replicas: int = 3) -> FailoverStore:
    shared = RedisStore(server.url, f"f-{uuid.uuid4().hex}:", 100)
    return FailoverStore(shared, "open" if policy == "open" else "closed", replicas)


async def test_open_counts_locally_with_the_limit_divided_by_replicas_hint(
    own_redis: RedisServer,
) -> None:
    store = failover(own_redis, "open", replicas=3)
    try:
        own_redis.stop()
        q = Quota(rpm=6, in_flight=30)
        first = await asyncio.wait_for(store.reserve(a := ask(q)), NO_HANG)
        assert (first.refused, first.local) == (None, True)
        assert (await store.reserve(ask(q))).refused is None
        assert (await store.reserve(ask(q))).refused == "rpm"  # 6 / 3 replicas = 2 here
        await store.settle(
            Settlement(a.key, a.ticket, first.bucket, a.period, 0, -1, 0, 0, local=True)
        )
        assert (await store.usage("team", "m2023-11")).in_flight == 1  # settled in the local store
        own_redis.start()
        for _ in range(200):  # sharing resumes by itself
            d = await store.reserve(ask(q))
            if not d.local:
                break
            await asyncio.sleep(0.05)
        assert (d.refused, d.local) == (None, False)
    finally:
        await store.close()


async def test_closed_raises_state_unavailable(own_redis: RedisServer) -> None:
    store = failover(own_redis, "closed")
    try:
        own_redis.stop()
        with pytest.raises(StateUnavailable):
            await asyncio.wait_for(store.reserve(ask(Quota(rpm=5))), NO_HANG)
    finally:
        await store.close()


@pytest.mark.parametrize("policy", ["open", "closed"])
async def test_settlements_and_cooldowns_never_fail_a_request(
    own_redis: RedisServer, policy: str
) -> None:
    store = failover(own_redis, policy)
    try:
        a = ask(Quota(in_flight=5))
        d = await store.reserve(a)
        own_redis.stop()
        settlement = Settlement(a.key, a.ticket, d.bucket, a.period, 0, -1, 0, 0)
        await asyncio.wait_for(store.settle(settlement), NO_HANG)
        await asyncio.wait_for(store.set_cooldown("openai", 5), NO_HANG)
        assert 4.0 < await asyncio.wait_for(store.cooldown("openai"), NO_HANG) <= 5.0
    finally:
        await store.close()


def test_build_store_follows_the_state_section(shared_redis: RedisServer) -> None:
    assert isinstance(build_store(StateConfig()), MemoryStore)
    config = StateConfig(backend="redis", redis_url=Secret(shared_redis.url))
    assert isinstance(build_store(config), FailoverStore)
