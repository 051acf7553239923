"""The Redis cache backend: entries shared by every replica (state.redis_url, timeout_ms).

Every call is one round trip bounded by `timeout_ms` (socket timeouts and asyncio.timeout on
top), never retried inside. Any Redis problem is a miss on read and a silent skip on write:
the cache may make a request faster, never fail or hang it. Keys are
`<state.key_prefix>cache:<model tag>:<sha256>`: fixed length, no payload in them, and the
model tag lets DELETE /admin/cache?model= find one model's entries with SCAN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.cache.keys import model_tag
from proxy.redis_client import bounded_redis

log = logging.getLogger("proxy")
T = TypeVar("T")
_SCAN_BATCH = 500
_MAX_SCAN_ROUNDS = 10_000  # a clear walks at most this many SCAN pages


class RedisByteStore:
    backend = "redis"

    def __init__(
        self, url: str, key_prefix: str, timeout_ms: int, max_connections: int = 64
    ) -> None:
        timeout = timeout_ms / 1000
        self._redis: Redis = bounded_redis(url, timeout, max_connections)
        self._timeout = timeout
        self._prefix = f"{key_prefix}cache:"
        self.errors = 0  # failed calls, for GET /admin/cache
        self._failing = False  # warn once per outage, not once per request

    async def get(self, model: str, key: str) -> bytes | None:
        value = await self._call(lambda: self._redis.get(self._key(model, key)), None)
        return value if isinstance(value, bytes) else None

    async def set(self, model: str, key: str, value: bytes, ttl: int) -> None:
        await self._call(lambda: self._redis.set(self._key(model, key), value, ex=ttl), None)

    async def clear(self, model: str | None) -> int:
        pattern = f"{self._prefix}{model_tag(model)}:*" if model else f"{self._prefix}*"
        removed, cursor = 0, 0
        for _ in range(_MAX_SCAN_ROUNDS):
            page = await self._call(partial(self._redis.scan, cursor, pattern, _SCAN_BATCH), None)
            if page is None:
                return -1
            cursor, keys = page
            if keys:
                removed += int(await self._call(partial(self._redis.unlink, *keys), 0))
            if cursor == 0:
                break
        return removed

    def sizes(self) -> tuple[int | None, int | None]:
        return None, None  # shared with other replicas and other data: not counted here

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _key(self, model: str, key: str) -> str:
        return f"{self._prefix}{model_tag(model)}:{key}"

    async def _call(self, call: Callable[[], Awaitable[T]], failed: T) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                result = await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self.errors += 1
            if not self._failing:
                self._failing = True
                log.warning("cache: redis unavailable, served as misses (%s)", type(exc).__name__)
            return failed
        self._failing = False
        return result
