"""The send wrapper around a cacheable request's normal answer: it adds `x-proxy-cache` to
the response head and, when asked, records the body bytes of a 200 answer (up to
cache.max_entry_bytes: a larger answer is simply not stored) so that the entry can be built
once the answer is complete. Only cacheable models' requests go through it.

A coalescing stream leader's capture also feeds its Flight: the commit, then each body
part before it is sent (so followers are never held back by the leader's own client),
and once the flight is detached (the leader's client left, followers remain) the parts
go to the flight only: the client is gone."""

from __future__ import annotations

import time

from starlette.types import Message, Send

from proxy.cache import entry as entries
from proxy.cache.entry import Entry
from proxy.cache.flights import Flight
from proxy.trace import RequestTrace


class Capture:
    def __init__(
        self, send: Send, result: bytes, limit: int, flight: Flight | None, live: bool
    ) -> None:
        self._send = send
        self._result = result
        self._limit = limit  # 0: do not record
        self._parts: list[bytes] = []
        self._size = 0
        self._status = 0
        self._flight = flight  # the leader's flight, if it leads one
        self._feed = flight if live else None  # a stream leader's flight, fed as it goes

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._status = message["status"]
            headers = [*message.get("headers", ()), (b"x-proxy-cache", self._result)]
            message = {**message, "headers": headers}
            if self._feed is not None and self._status == 200:
                self._feed.commit()
        elif self._status == 200:
            body: bytes = message.get("body", b"")
            if self._feed is not None:
                self._feed.record(body)
            if self._limit:
                self._size += len(body)
                if self._size > self._limit:
                    self._limit, self._parts = 0, []  # too large to store: stop recording
                elif body:
                    self._parts.append(body)
        if self._flight is None or not self._flight.detached:
            await self._send(message)

    def entry(self, trace: RequestTrace, stream: bool) -> Entry | None:
        """The answer as an entry, if it was recorded whole, ended well and is storable
        (also when the leader's client left but the call went on for its followers)."""
        if self._status != 200 or not self._limit or not self._parts:
            return None
        detached = self._flight is not None and self._flight.detached
        if not detached and (trace.outcome != "ok" or trace.client_disconnected):
            return None
        u, price = trace.usage, trace.price
        cost = price.cost(u.prompt, u.completion, u.cached) if u and price else 0.0
        body, now = b"".join(self._parts), time.time()
        try:
            if stream:
                return entries.from_stream(body, u, now, cost)
            return entries.from_completion(body, now, cost)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # an answer of a shape we cannot assemble is served, not stored
