"""The Redis backend: counters and provider cooldowns shared by every replica.

Every call is one round trip (a Lua script from redis_lua.py, or one command), bounded by
`timeout_ms` with asyncio.timeout on top of the socket timeouts, and never retried inside:
a slow or dead Redis costs a request at most the bound, then StateUnavailable (failover.py
applies `on_unavailable`). redis-py drops a broken connection and dials again on the next
call, and re-sends a script the server forgot after a restart (EVALSHA -> NOSCRIPT -> load),
so the store recovers without a restart of the proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.redis_client import bounded_redis
from proxy.tenancy import redis_lua, windows
from proxy.tenancy.store import (
    Ask,
    BackendErrors,
    Decision,
    LimitName,
    Settlement,
    StateUnavailable,
    StoreOp,
    Usage,
)

T = TypeVar("T")
_REFUSALS: dict[bytes, LimitName] = {
    b"rpm": "rpm",
    b"tpm": "tpm",
    b"in_flight": "in_flight",
    b"budget": "budget",
}


class RedisStore:
    def __init__(
        self,
        url: str,
        key_prefix: str,
        timeout_ms: int,
        errors: BackendErrors | None = None,
        max_connections: int = 64,  # sockets to Redis per process; more callers wait (bounded)
        clock: Callable[[], float] | None = None,  # tests only; None: Redis server TIME
    ) -> None:
        timeout = timeout_ms / 1000
        self._redis: Redis = bounded_redis(url, timeout, max_connections)
        self._timeout = timeout
        self._prefix = key_prefix
        self._clock = clock
        self.errors = errors if errors is not None else BackendErrors()
        self._reserve = self._redis.register_script(redis_lua.RESERVE)
        self._settle = self._redis.register_script(redis_lua.SETTLE)
        self._usage = self._redis.register_script(redis_lua.USAGE)

    async def _call(self, op: StoreOp, call: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self.errors.record(op)
            raise StateUnavailable(op) from exc

    def _keys(self, key: str, period: str) -> list[str]:
        base = f"{self._prefix}{{{key}}}:"
        return [base + "req", base + "tok", base + "fly", base + "spend:" + period]

    def _time_args(self) -> list[int]:
        now = -1 if self._clock is None else int(self._clock() * 1000)
        return [now, windows.BUCKET_MS, windows.SPAN]

    async def reserve(self, ask: Ask) -> Decision:
        q = ask.quota

        def limit(v: int | None) -> int:
            return -1 if v is None else v

        args: list[str | int] = [
            *self._time_args(),
            *(limit(v) for v in (q.rpm, q.tpm, q.in_flight, q.budget_micros)),
            ask.tokens,
            ask.micros,
            ask.lease_ms,
            ask.ticket,
            ask.period_ttl_s,
        ]
        keys = self._keys(ask.key, ask.period)
        reply: list[Any] = await self._call("reserve", lambda: self._reserve(keys, args))
        refused, wait, nreq, req_reset, ntok, tok_reset, bucket = reply
        return Decision(
            refused=_REFUSALS.get(refused) if refused else None,
            retry_after_ms=int(wait),
            requests_used=int(nreq),
            requests_reset_ms=int(req_reset),
            tokens_used=int(ntok),
            tokens_reset_ms=int(tok_reset),
            bucket=int(bucket),
        )

    async def settle(self, s: Settlement) -> None:
        keys = self._keys(s.key, s.period)
        args: list[str | int] = [
            s.ticket,
            s.bucket,
            s.requests_delta,
            s.tokens_delta,
            s.micros_delta,
        ]
        await self._call("settle", lambda: self._settle(keys, args))

    async def usage(self, key: str, period: str) -> Usage:
        keys = self._keys(key, period)
        args = self._time_args()
        reply: list[Any] = await self._call("usage", lambda: self._usage(keys, args))
        return Usage(*(int(v) for v in reply))

    def _cooldown_key(self, provider: str) -> str:
        return f"{self._prefix}cooldown:{provider}"

    async def set_cooldown(self, provider: str, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        key = self._cooldown_key(provider)
        await self._call("cooldown_set", lambda: self._redis.set(key, b"1", px=ms))

    async def cooldown(self, provider: str) -> float:
        key = self._cooldown_key(provider)
        ms: int = await self._call("cooldown_get", lambda: self._redis.pttl(key))
        return max(0, ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
