"""`on_unavailable` around the shared store, and the factory from the `state:` section.

open: a reservation Redis could not take is taken in a local MemoryStore with every limit
divided by `replicas_hint`, so N replicas together stay near the configured limit while Redis
is away; its settlement goes back to the store that took it. closed: StateUnavailable goes
up and the edge answers 503. Settlements and cooldowns never fail a request: a lost
settlement only keeps a reservation until its window or lease ends. Each call tries Redis
again, so sharing resumes by itself when Redis is back.
"""

from __future__ import annotations

import contextlib

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

    async def reserve(self, ask: Ask) -> Decision:
        try:
            return await self._shared.reserve(ask)
        except StateUnavailable:
            if self._policy == "closed":
                raise
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
        with contextlib.suppress(StateUnavailable):
            await self._shared.settle(settlement)

    async def usage(self, key: str, period: str) -> Usage:
        try:
            return await self._shared.usage(key, period)
        except StateUnavailable:
            return await self._local.usage(key, period)

    async def set_cooldown(self, provider: str, seconds: float) -> None:
        # Always kept locally too: this replica honours its own cooldowns whatever Redis does.
        await self._local.set_cooldown(provider, seconds)
        with contextlib.suppress(StateUnavailable):
            await self._shared.set_cooldown(provider, seconds)

    async def cooldown(self, provider: str) -> float:
        mine = await self._local.cooldown(provider)
        try:
            return max(mine, await self._shared.cooldown(provider))
        except StateUnavailable:
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
