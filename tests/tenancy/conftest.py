from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from proxy.tenancy.memory_store import MemoryStore
from proxy.tenancy.redis_store import RedisStore
from proxy.tenancy.store import Store
from tests.redis_server import RedisServer
from tests.tenancy.clock import Clock

START = 1_700_000_000.0  # on a bucket boundary: bucket expiries are easy to state


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[RedisServer]:
    """One redis-server for tests that do not break it (each uses its own key prefix)."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone, to kill, pause or restart."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(params=["memory", "redis"])
async def store_and_clock(
    request: pytest.FixtureRequest, shared_redis: RedisServer
) -> AsyncIterator[tuple[Store, Clock]]:
    """Each backend on a settable clock (Redis: the script takes `now` from the caller)."""
    clock = Clock(START)
    if request.param == "memory":
        yield MemoryStore(clock), clock
        return
    store = RedisStore(shared_redis.url, f"t-{uuid.uuid4().hex}:", 1000, clock=clock)
    yield store, clock
    await store.close()
