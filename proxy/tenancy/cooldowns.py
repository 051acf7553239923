"""A provider's 429 cooldown shared by every replica through the state store (the redis
backend): a Retry-After one replica saw keeps the others off that provider too. Breakers stay
per process. The router holds one of these only with the redis backend; with memory it holds
None and awaits nothing."""

from __future__ import annotations

import asyncio

from proxy.breakers import ProviderHealth
from proxy.tenancy.store import Store


class SharedCooldowns:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._publishing: set[asyncio.Task[None]] = set()

    async def take(self, health: ProviderHealth) -> None:
        """Take over a cooldown another replica set (bounded by state.timeout_ms; an
        unreachable store reads as none)."""
        seconds = await self._store.cooldown(health.provider)
        if seconds > 0:
            health.start_cooldown(seconds)

    def tell(self, provider: str, seconds: float) -> None:
        """Publish a 429's cooldown without making the request wait for the store."""
        task = asyncio.create_task(self._store.set_cooldown(provider, seconds))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)
