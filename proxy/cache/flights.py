"""In-flight coalescing, per process: while a cacheable request is in flight, an identical
one (same cache key) follows it instead of calling upstream.

The leader opens a Flight and ends it on every exit with the entry it produced, or None
(it failed, was cancelled, or the answer is not storable). While the leader streams a 200,
its body parts are recorded here as they are sent, so a stream follower gets the parts so
far, then the rest live, each at its own pace: followers read the one shared record by
cursor (nothing is copied per follower) and the leader never waits for any of them.

Bounds: the record holds at most `limit` bytes (cache.max_entry_bytes). Past it the flight
admits no one new and drops its oldest parts; a follower that still needed a dropped part
fell too far behind (see relay.py for what it does then).

The leader's client leaving does not end the flight while followers remain: `detach` says
so, and the leader's upstream call goes on for them (its sends go nowhere). When the last
follower leaves a detached flight, `cancel_leader` stops that call.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from proxy.cache.entry import Entry
from proxy.providers.base import Usage

MAX_ROUNDS = 3  # leaders a follower waits for before it calls upstream on its own


class Flight:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: deque[bytes] = deque()  # the leader's 200 body parts, from `base` on
        self.base = 0  # parts dropped from the front after the record overflowed
        self.size = 0  # bytes held in `parts`
        self.streaming = False  # the leader committed a 200 stream: followers may relay it
        self.admitting = True  # False once the record overflowed: late joiners lead
        self.followers = 0
        self.detached = False  # the leader's client left; its call goes on for followers
        self.ended = False
        self.entry: Entry | None = None
        self.usage: Usage | None = None  # the leader's usage, for followers that ask for it
        self.cancel_leader: Callable[[], None] | None = None
        self._wake = asyncio.Event()

    async def changed(self) -> None:
        """Wait until the next record, commit or end (waiters are woken all at once)."""
        await self._wake.wait()

    def commit(self) -> None:
        self.streaming = True
        self._notify()

    def record(self, part: bytes) -> None:
        """One body part the leader is about to send; O(1) unless the record overflows."""
        if not part:
            return
        if not self.admitting and self.followers == 0:
            # Overflowed and nobody can ever read it: stop holding it.
            self.base += len(self.parts) + 1
            self.parts.clear()
            self.size = 0
            return
        self.parts.append(part)
        self.size += len(part)
        if self.size > self.limit:
            self.admitting = False  # a late joiner could not get the whole answer
            while self.size > self.limit and len(self.parts) > 1:
                self.size -= len(self.parts.popleft())
                self.base += 1
        self._notify()

    def detach(self) -> bool:
        """The leader's client left: True (go on) if followers still need the call."""
        if self.followers == 0 or self.ended:
            return False
        self.detached = True
        return True

    def leave(self) -> None:
        self.followers -= 1
        alone = self.detached and self.followers == 0 and not self.ended
        if alone and self.cancel_leader is not None:
            self.cancel_leader()  # nobody is left to read this answer

    def end(self, entry: Entry | None, usage: Usage | None) -> None:
        self.ended, self.entry, self.usage = True, entry, usage
        self.cancel_leader = None
        self._notify()

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()


class Flights:
    def __init__(self) -> None:
        self._open: dict[str, Flight] = {}
        self.waiting = 0  # followers attached to a leader now (GET /admin/cache)
        self.detached = 0  # leaders whose client left while followers remained (a total)

    def __len__(self) -> int:
        return len(self._open)

    def join(self, key: str) -> Flight | None:
        """The flight in progress for `key` that still admits followers, or None."""
        flight = self._open.get(key)
        return flight if flight is not None and flight.admitting else None

    def open(self, key: str, limit: int) -> Flight:
        flight = Flight(limit)
        self._open[key] = flight
        return flight

    def close(self, key: str, flight: Flight, entry: Entry | None, usage: Usage | None) -> None:
        if self._open.get(key) is flight:
            del self._open[key]
        if not flight.ended:
            flight.end(entry, usage)
