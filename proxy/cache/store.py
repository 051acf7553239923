"""Bytes by cache key: the interface both backends keep, and the in-process LRU one.

The memory store is bounded by `max_bytes` (the sum of stored values): before a value goes
in, the least recently used entries are evicted until it fits, so the total never passes
the bound. Expired entries are dropped when read. Nothing here awaits anything real; the
methods are async so the chat path treats both backends alike.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from proxy.cache import metrics


class ByteStore(Protocol):
    backend: str

    async def get(self, model: str, key: str) -> bytes | None:
        """The value, or None: absent, expired, or the backend unreachable (a miss)."""
        ...

    async def set(self, model: str, key: str, value: bytes, ttl: int) -> None:
        """Store for `ttl` seconds; a failure is silent (the answer was served anyway)."""
        ...

    async def clear(self, model: str | None) -> int:
        """Remove every entry (of one public model); how many went (-1: unknown)."""
        ...

    def sizes(self) -> tuple[int | None, int | None]:
        """(entries, bytes) held, where the backend knows them cheaply."""
        ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Item:
    value: bytes
    model: str
    expires: float


class MemoryStore:
    backend = "memory"

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, _Item] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._clock = clock
        self.evictions = 0

    async def get(self, model: str, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item.expires <= self._clock():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return item.value

    async def set(self, model: str, key: str, value: bytes, ttl: int) -> None:
        if len(value) > self._max_bytes:
            return
        if key in self._items:
            self._drop(key)
        while self._items and self._bytes + len(value) > self._max_bytes:
            oldest = next(iter(self._items))
            self._drop(oldest)
            self.evictions += 1
            metrics.observe_eviction()
        self._items[key] = _Item(value, model, self._clock() + ttl)
        self._bytes += len(value)
        metrics.set_bytes(self._bytes)

    async def clear(self, model: str | None) -> int:
        doomed = [k for k, item in self._items.items() if model is None or item.model == model]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def sizes(self) -> tuple[int | None, int | None]:
        return len(self._items), self._bytes

    async def aclose(self) -> None:
        self._items.clear()  # the gauge is the live store's: a retired one leaves it be
        self._bytes = 0

    def _drop(self, key: str) -> None:
        item = self._items.pop(key)
        self._bytes -= len(item.value)
        metrics.set_bytes(self._bytes)
