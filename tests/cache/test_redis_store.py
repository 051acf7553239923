"""The Redis cache backend against a real redis-server: round trips, TTLs, per-model
clears, fixed-size keys, and a Redis that is down or stalled is a bounded miss."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from proxy.cache.redis_store import RedisByteStore
from tests.redis_server import RedisServer
from tests.servers import free_port

TIMEOUT_MS = 200


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisByteStore]:
    made = RedisByteStore(redis_server.url, f"t{uuid.uuid4().hex[:8]}:", TIMEOUT_MS)
    yield made
    await made.aclose()


async def test_round_trip_and_fixed_size_keys(
    store: RedisByteStore, redis_server: RedisServer
) -> None:
    assert await store.get("demo", "a" * 64) is None
    await store.set("demo", "a" * 64, b"value", 60)
    assert await store.get("demo", "a" * 64) == b"value"
    assert await store.get("other", "a" * 64) is None
    keys = redis.Redis.from_url(redis_server.url).keys("*cache:*")
    assert keys and all(len(k) < 120 for k in keys)  # prefix, model tag, digest: no payload


async def test_ttl_is_set(store: RedisByteStore, redis_server: RedisServer) -> None:
    await store.set("demo", "b" * 64, b"value", 60)
    direct = redis.Redis.from_url(redis_server.url)
    (key,) = [k for k in direct.keys("*") if k.endswith(b"b" * 64)]
    assert 0 < direct.ttl(key) <= 60


async def test_clear_one_model_or_all(store: RedisByteStore) -> None:
    await store.set("demo", "1" * 64, b"x", 60)
    await store.set("faq-*", "2" * 64, b"y", 60)  # a glob in a model name stays literal
    assert await store.clear("demo") == 1
    assert await store.get("faq-*", "2" * 64) == b"y"
    assert await store.clear(None) == 1
    assert await store.get("faq-*", "2" * 64) is None


async def test_unreachable_redis_is_a_bounded_miss() -> None:
    down = RedisByteStore(f"redis://127.0.0.1:{free_port()}/0", "t:", TIMEOUT_MS)
    assert await down.get("demo", "c" * 64) is None
    await down.set("demo", "c" * 64, b"x", 60)  # silent
    assert await down.clear(None) == -1
    assert down.errors == 3
    await down.aclose()


async def test_stalled_redis_is_a_miss_within_the_timeout(
    store: RedisByteStore, redis_server: RedisServer
) -> None:
    await store.set("demo", "d" * 64, b"x", 60)
    redis_server.pause()
    try:
        # The pause lasts until resume: only timeout_ms can end this read (the outer
        # bound just keeps a failing test from hanging).
        async with asyncio.timeout(10):
            assert await store.get("demo", "d" * 64) is None
    finally:
        redis_server.resume()
    assert await store.get("demo", "d" * 64) == b"x"  # reconnects by itself
