"""In-flight coalescing, per process: while a cacheable request is in flight, an identical
one (same cache key) waits for its answer instead of calling upstream.

The leader opens a flight and closes it on every exit with the entry it produced, or None
(it failed, was cancelled, its client left, or the answer is not storable). A follower that
gets None is not failed with the leader: it tries again, and the first one back becomes the
new leader (checking and opening a flight has no await between them, so exactly one does).
Followers wait through `asyncio.shield`: a follower's client leaving cancels its own wait,
never the shared future.
"""

from __future__ import annotations

import asyncio

from proxy.cache.entry import Entry

MAX_ROUNDS = 3  # leaders a follower waits for before it calls upstream on its own


class Flights:
    def __init__(self) -> None:
        self._open: dict[str, asyncio.Future[Entry | None]] = {}
        self.waiting = 0  # followers waiting on a leader now (GET /admin/cache)

    def __len__(self) -> int:
        return len(self._open)

    def join(self, key: str) -> asyncio.Future[Entry | None] | None:
        """The flight in progress for `key`, or None."""
        return self._open.get(key)

    def open(self, key: str) -> asyncio.Future[Entry | None]:
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._open[key] = future
        return future

    def close(self, key: str, future: asyncio.Future[Entry | None], entry: Entry | None) -> None:
        if self._open.get(key) is future:
            del self._open[key]
        if not future.done():
            future.set_result(entry)

    async def wait(self, flight: asyncio.Future[Entry | None], timeout: float) -> Entry | None:
        """The leader's entry, or None if it produced none or took longer than `timeout`."""
        self.waiting += 1
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(flight)
        except TimeoutError:
            return None
        finally:
            self.waiting -= 1
