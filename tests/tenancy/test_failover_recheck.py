"""After one failed Redis call the failover store skips Redis for RECHECK_S: a hung Redis
costs one request one timeout, not every request (and every call of a request) one each."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from proxy.tenancy.failover import FailoverStore
from proxy.tenancy.redis_store import RedisStore
from proxy.tenancy.store import BackendErrors, Quota, Settlement, StateUnavailable
from tests.redis_server import RedisServer
from tests.tenancy.test_redis_store import NO_HANG
from tests.tenancy.test_store import ask


@pytest.mark.parametrize("policy", ["open", "closed"])
async def test_a_hung_redis_is_tried_once_then_skipped(own_redis: RedisServer, policy: str) -> None:
    errors = BackendErrors()
    shared = RedisStore(own_redis.url, f"r-{uuid.uuid4().hex}:", 100, errors=errors)
    store = FailoverStore(shared, "open" if policy == "open" else "closed", 3)
    try:
        own_redis.pause()
        for _ in range(5):
            a = ask(Quota(rpm=100))
            try:
                d = await asyncio.wait_for(store.reserve(a), NO_HANG)
            except StateUnavailable:
                assert policy == "closed"
                continue
            assert d.local
            settlement = Settlement(a.key, a.ticket, d.bucket, a.period, 0, -1, 0, 0)
            await asyncio.wait_for(store.settle(settlement), NO_HANG)
            await asyncio.wait_for(store.cooldown("openai"), NO_HANG)
        assert errors.counts == {"reserve": 1}  # only the first call waited on Redis
    finally:
        own_redis.resume()
        await store.close()
