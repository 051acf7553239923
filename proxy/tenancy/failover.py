"""`on_unavailable` around the shared store, and the factory from the `state:` section.

open: a reservation Redis could not take is taken in a local MemoryStore with every limit
divided by `replicas_hint`, so N replicas together stay near the configured limit while Redis
is away; its settlement goes back to the store that took it. closed: StateUnavailable goes
up and the edge answers 503. Settlements and cooldowns never fail a request: a lost
settlement only keeps a reservation until its window or lease ends. After a failed call Redis
is skipped for RECHECK_S (so one request pays at most one timeout, not one per call, and the
requests behind it none), then tried again: sharing resumes by itself when Redis is back.
"""

from __future__ import annotations

import contextlib
import time

from proxy.config.state import OnUnavailable, StateConfig
from proxy.tenancy.memory_store import MemoryStore
from proxy.tenancy.store import (
    Ask,
    BackendErrors,
    Decision,
    Settlement,
    StateUnavailable,
    Store,
    Usage,
)

RECHECK_S = 1.0  # how long Redis is skipped after a failed call


class FailoverStore:
    def __init__(
        self,
        shared: Store,
        policy: OnUnavailable,
        replicas_hint: int,
        local: MemoryStore | None = None,
    ) -> None:
        self._shared = shared
        self._policy = policy
        self._parts = replicas_hint
        self._local = local if local is not None else MemoryStore()
        self._down_until = 0.0  # monotonic time before which Redis is not tried

    def _up(self) -> bool:
        return self._down_until == 0.0 or time.monotonic() >= self._down_until

    def _down(self) -> None:
        self._down_until = time.monotonic() + RECHECK_S

    async def reserve(self, ask: Ask) -> Decision:
        if self._up():
            try:
                decision = await self._shared.reserve(ask)
                self._down_until = 0.0
                return decision
            except StateUnavailable:
                self._down()
                if self._policy == "closed":
                    raise
        elif self._policy == "closed":
            raise StateUnavailable("reserve")
        local = Ask(
            key=ask.key,
            quota=ask.quota.divided(self._parts),
            tokens=ask.tokens,
            micros=ask.micros,
            period=ask.period,
            period_ttl_s=ask.period_ttl_s,
            lease_ms=ask.lease_ms,
            ticket=ask.ticket,
        )
        return (await self._local.reserve(local)).as_local()

    async def settle(self, settlement: Settlement) -> None:
        if settlement.local:
            await self._local.settle(settlement)
            return
        # A lost settlement is counted by the backend; the lease and the window end it.
        if not self._up():
            return
        try:
            await self._shared.settle(settlement)
        except StateUnavailable:
            self._down()

    async def usage(self, key: str, period: str) -> Usage:
        try:
            return await self._shared.usage(key, period)  # admin only: always tried
        except StateUnavailable:
            return await self._local.usage(key, period)

    async def set_cooldown(self, provider: str, seconds: float) -> None:
        # Always kept locally too: this replica honours its own cooldowns whatever Redis does.
        await self._local.set_cooldown(provider, seconds)
        with contextlib.suppress(StateUnavailable):
            await self._shared.set_cooldown(provider, seconds)

    async def cooldown(self, provider: str) -> float:
        mine = await self._local.cooldown(provider)
        if not self._up():
            return mine
        try:
            return max(mine, await self._shared.cooldown(provider))
        except StateUnavailable:
            self._down()
            return mine

    async def close(self) -> None:
        await self._shared.close()


def build_store(config: StateConfig, errors: BackendErrors | None = None) -> Store:
    if config.backend == "memory" or config.redis_url is None:
        return MemoryStore()
    # Imported here: redis-py costs start-up time that the memory default never pays.
    from proxy.tenancy.redis_store import RedisStore

    shared = RedisStore(config.redis_url.value, config.key_prefix, config.timeout_ms, errors=errors)
    return FailoverStore(shared, config.on_unavailable, config.replicas_hint)
