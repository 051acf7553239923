"""First come, first served slots of a provider's connection pool, and who gives them back.

Why a gate in front of aiohttp's pool: aiohttp's connector lets a request that arrives
while a connection is being handed back take it ahead of the requests already queued for
one; with more requests in flight than `max_connections`, an unlucky request could wait
for seconds (bench/: 1.6 s at 256 concurrent against a 100-connection pool, with the
median at 50 ms). The gate hands each freed slot straight to the longest waiter.

The gate is `asyncio.Semaphore` (it replaced a hand-written one with the same behaviour).
Since CPython gh-90155 (read in the stdlib source of 3.11.2, 3.11.7, 3.12.1 and 3.13.0;
hence requires-python >= 3.11.2): `release()` resolves the first waiter's future and takes
the count on its behalf before that waiter runs, and `locked()` stays true while a waiter
that was not cancelled is queued, so a newcomer cannot overtake; a waiter cancelled after
it was handed the slot gives it back and wakes the next; a cancelled waiter is skipped.
tests/test_fair_gate.py checks each of these on the Python we run.

A slot has one owner at a time: the `async with PoolSlot` of the attempt, or, once the
attempt hands it to a response still to be read, that response's body (GatedStream),
which frees it when the response is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType

import httpx

from proxy.errors import pool_exhausted


class PoolSlot:
    """`async with upstream.slot(deadline) as slot:` waits for a free connection slot.

    The wait is the proxy's, not the provider's: it is bounded by its own timeout and, when
    that runs out, raises the `pool_timeout` outcome (503, breaker not charged)."""

    __slots__ = ("_deadline", "_gate", "_held", "_pool_timeout", "_provider", "waited")

    def __init__(
        self, gate: asyncio.Semaphore, provider: str, deadline: float, pool_timeout: float
    ) -> None:
        self._gate = gate
        self._provider = provider
        self._deadline = deadline  # the request's (loop time)
        self._pool_timeout = pool_timeout
        self._held = False
        self.waited = 0.0  # seconds spent queued, so the caller can start its clocks after

    async def __aenter__(self) -> PoolSlot:
        gate = self._gate
        if gate._value > 0 and not gate._waiters:
            # Free, nobody queued: what acquire() does on that path (CPython 3.11-3.13,
            # see above), without a coroutine and two scans of the waiters per request.
            gate._value -= 1
        else:
            loop = asyncio.get_running_loop()
            started = loop.time()
            until = min(self._deadline, started + self._pool_timeout)
            try:
                async with asyncio.timeout_at(until):
                    await gate.acquire()
            except TimeoutError:
                raise pool_exhausted(self._provider, loop.time() - started) from None
            self.waited = loop.time() - started
        self._held = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()  # a no-op once a response took the slot over

    def hand_to(self, body: httpx.AsyncByteStream) -> GatedStream:
        """The response body becomes the slot's owner; closing it frees the slot."""
        self._held = False
        return GatedStream(body, self._gate)

    def release(self) -> None:
        if self._held:
            self._held = False
            self._gate.release()


class GatedStream(httpx.AsyncByteStream):
    """A response body whose close also frees its gate slot (once)."""

    def __init__(self, inner: httpx.AsyncByteStream, gate: asyncio.Semaphore) -> None:
        self._inner = inner
        self._gate: asyncio.Semaphore | None = gate

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()  # no extra generator layer per chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            gate, self._gate = self._gate, None
            if gate is not None:
                gate.release()
