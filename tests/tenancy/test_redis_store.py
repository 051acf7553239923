"""The Redis backend against a real redis-server that dies, hangs and comes back."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from proxy.tenancy.redis_store import RedisStore
from proxy.tenancy.store import BackendErrors, Quota, StateUnavailable
from tests.redis_server import RedisServer
from tests.tenancy.test_store import ask

# "Did not hang": far above timeout_ms + normal latency, far below a hung call.
NO_HANG = 5.0


def store_for(server: RedisServer, timeout_ms: int = 100) -> RedisStore:
    return RedisStore(server.url, f"t-{uuid.uuid4().hex}:", timeout_ms, errors=BackendErrors())


async def until_answers(store: RedisStore) -> None:
    """Poll (bounded) until the store serves again, as requests would."""
    for _ in range(200):
        try:
            await store.reserve(ask(Quota()))
            return
        except StateUnavailable:
            await asyncio.sleep(0.05)
    raise AssertionError("the store did not reconnect")


@pytest.mark.parametrize("outage", ["killed", "hung"])
async def test_an_outage_costs_at_most_the_bound_and_is_counted(
    own_redis: RedisServer, outage: str
) -> None:
    store = store_for(own_redis)
    try:
        assert (await store.reserve(ask(Quota(rpm=5)))).refused is None
        own_redis.stop() if outage == "killed" else own_redis.pause()
        for op in (store.reserve(ask(Quota(rpm=5))), store.cooldown("openai")):
            with pytest.raises(StateUnavailable):
                await asyncio.wait_for(op, NO_HANG)
        assert store.errors.counts == {"reserve": 1, "cooldown_get": 1}
    finally:
        own_redis.close()
        await store.close()


async def test_the_store_reconnects_after_redis_restarts(own_redis: RedisServer) -> None:
    store = store_for(own_redis)
    try:
        assert (await store.reserve(ask(Quota(rpm=5)))).refused is None
        own_redis.stop()
        with pytest.raises(StateUnavailable):
            await asyncio.wait_for(store.reserve(ask(Quota(rpm=5))), NO_HANG)
        own_redis.start()  # same port, empty: scripts must be loaded again (NOSCRIPT)
        await until_answers(store)
        usage = await store.usage("team", "m2023-11")
        assert usage.requests == 1  # the request of until_answers; the restart lost the rest
    finally:
        await store.close()


async def test_the_store_recovers_after_a_hang(own_redis: RedisServer) -> None:
    store = store_for(own_redis)
    try:
        own_redis.pause()
        with pytest.raises(StateUnavailable):
            await asyncio.wait_for(store.reserve(ask(Quota())), NO_HANG)
        own_redis.resume()
        await until_answers(store)
    finally:
        await store.close()


async def test_a_cooldown_set_by_one_replica_is_seen_by_the_others(
    shared_redis: RedisServer,
) -> None:
    prefix = f"cd-{uuid.uuid4().hex}:"
    a, b = (RedisStore(shared_redis.url, prefix, 1000) for _ in range(2))
    try:
        await a.set_cooldown("openai", 5)
        assert 4.0 < await b.cooldown("openai") <= 5.0
        assert await b.cooldown("claude") == 0.0
    finally:
        await a.close()
        await b.close()


async def test_calls_timed_out_during_a_hang_give_their_sockets_back(
    own_redis: RedisServer,
) -> None:
    """More timed-out calls than the pool has sockets: none may keep one, or the store would
    stay unavailable after Redis recovers."""
    store = RedisStore(own_redis.url, f"t-{uuid.uuid4().hex}:", 500, max_connections=2)
    try:
        await until_answers(store)
        own_redis.pause()
        results = await asyncio.wait_for(
            asyncio.gather(
                *(store.reserve(ask(Quota())) for _ in range(8)), return_exceptions=True
            ),
            NO_HANG,
        )
        assert all(isinstance(r, StateUnavailable) for r in results)
        own_redis.resume()
        await until_answers(store)
        decisions = await asyncio.gather(*(store.reserve(ask(Quota())) for _ in range(8)))
        assert all(d.refused is None for d in decisions)
    finally:
        await store.close()
