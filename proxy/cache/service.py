"""The ResponseCache the chat endpoint calls for a cacheable model, and one request's plan.

A plan decides once what the request may do (read, join a flight, store, for how long)
from cache.*, `Cache-Control` (no-cache: do not read, may store; no-store: neither) and
`x-proxy-cache-ttl` (capped by cache.max_ttl). `serve` then answers: a stored entry
(hit), a flight's answer (coalesced: a stream follower of a streaming leader gets it
live, see relay.py; any other follower gets the leader's entry), or the normal upstream
answer (miss, or bypass) through a Capture that records it for the store and the flight. Hits and coalesced answers carry
trace.cache so that limits and budgets do not charge them and the account says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import Send

from proxy.cache import entry as entries
from proxy.cache import metrics, relay, replay
from proxy.cache.capture import Capture
from proxy.cache.entry import Entry
from proxy.cache.flights import MAX_ROUNDS, Flight, Flights
from proxy.cache.keys import cache_key
from proxy.cache.metrics import CacheResult
from proxy.cache.store import ByteStore
from proxy.config.cache import CacheConfig
from proxy.errors import invalid_request
from proxy.providers.base import CallContext
from proxy.request import ChatRequest
from proxy.streaming import SSE_HEADERS
from proxy.trace import RequestTrace

# Answers the request the normal way, sending through the given `send`.
AnswerFn = Callable[[Send], Awaitable[None]]
_SSE_HEAD = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    *((k.encode(), v.encode()) for k, v in SSE_HEADERS.items()),
]
_JSON_HEAD = [(b"content-type", b"application/json")]
_LIVE_HEAD = [*_SSE_HEAD, (b"x-proxy-cache", b"coalesced"), (b"age", b"0")]


class ClientWatch(Protocol):
    """The request's disconnect watch (chat.DisconnectWatch), as a leader uses it."""

    on_disconnect: Callable[[], bool] | None  # True: the disconnect is handled, go on

    def stop(self) -> None: ...

    def fire(self) -> None: ...


class ResponseCache:
    def __init__(
        self, config: CacheConfig, store: ByteStore, models: frozenset[str], wait_limit: float
    ) -> None:
        self.config = config
        self.store = store
        self.models = models  # the public models that may be cached: one set lookup per request
        self.flights = Flights()
        self.wait_limit = wait_limit  # server.request_timeout: the longest a follower waits
        self.counts: dict[CacheResult, int] = {"hit": 0, "miss": 0, "bypass": 0, "coalesced": 0}

    def plan(
        self, req: ChatRequest, scope: str, cache_control: str | None, ttl: str | None
    ) -> CachePlan:
        read = store = True
        if cache_control is not None:
            directives = {d.strip().lower() for d in cache_control.split(",")}
            read = "no-cache" not in directives and "no-store" not in directives
            store = "no-store" not in directives
        if req.body.get("logprobs"):
            read = store = False  # a replayed stream could not carry them
        seconds = self.config.ttl if ttl is None else _ttl(ttl, self.config.max_ttl)
        key = cache_key(scope, req.model, req.body) if read or store else ""
        return CachePlan(self, req, key, read, store and seconds > 0, seconds)

    def stats(self) -> dict[str, Any]:
        entries_held, bytes_held = self.store.sizes()
        return {
            "backend": self.store.backend,
            "entries": entries_held,
            "bytes": bytes_held,
            "max_bytes": self.config.max_bytes if self.store.backend == "memory" else None,
            "hits": self.counts["hit"],
            "misses": self.counts["miss"],
            "bypassed": self.counts["bypass"],
            "coalesced": self.counts["coalesced"],
            "evictions": getattr(self.store, "evictions", 0),
            "in_flight": len(self.flights),
            "waiting": self.flights.waiting,
            "detached_leaders": self.flights.detached,
            "errors": getattr(self.store, "errors", 0),
        }

    def count(self, model: str, result: CacheResult, saved_usd: float = 0.0) -> None:
        self.counts[result] += 1
        metrics.observe_result(model, result, saved_usd)


@dataclass
class CachePlan:
    cache: ResponseCache
    req: ChatRequest
    key: str
    read: bool
    store: bool
    ttl: int
    started: bool = False  # this request's answer began (its response head was sent)

    async def serve(
        self,
        send: Send,
        watch: ClientWatch,
        trace: RequestTrace,
        ctx: CallContext,
        answer: AnswerFn,
    ) -> None:
        cache, model = self.cache, self.req.model
        if self.read:
            raw = await cache.store.get(model, self.key)
            found = entries.decode(raw) if raw is not None else None
            if found is not None:
                return await self._replay(found, "hit", send, watch.stop, trace, ctx)
            if cache.config.coalesce and await self._follow(send, watch.stop, trace, ctx):
                return
        result: CacheResult = "miss" if self.read else "bypass"
        trace.cache = result
        cache.count(model, result)
        await self._lead(send, watch, trace, answer)

    async def _follow(
        self, send: Send, stop_watch: Callable[[], None], trace: RequestTrace, ctx: CallContext
    ) -> bool:
        """Answer from a leader's flight, if an identical request is in flight and its
        answer can serve this one; False: this request must make its own call."""
        flights = self.cache.flights
        for _ in range(MAX_ROUNDS):
            flight = flights.join(self.key)
            if flight is None:
                return False
            flight.followers += 1
            flights.waiting += 1
            try:
                async with asyncio.timeout(self.cache.wait_limit):
                    if await self._from(flight, send, stop_watch, trace, ctx):
                        return True
            except TimeoutError:
                if not self.started:
                    return False
                trace.outcome = "timeout"  # mid-stream: unfinished, uvicorn closes it
                return True
            finally:
                flights.waiting -= 1
                flight.leave()
        return False

    async def _from(
        self,
        flight: Flight,
        send: Send,
        stop_watch: Callable[[], None],
        trace: RequestTrace,
        ctx: CallContext,
    ) -> bool:
        """A stream follower of a streaming leader relays it live; any other waits for the
        leader's entry. False if there is none (the leader failed before this follower
        sent anything, or the answer is not storable): try the next round."""
        live = self.req.stream
        while not (flight.ended or (live and flight.streaming)):
            await flight.changed()
        if flight.ended:
            if flight.entry is None:
                return False
            await self._replay(flight.entry, "coalesced", send, stop_watch, trace, ctx)
            return True
        if flight.base > 0:
            return False  # the parts this follower needs are gone: it calls on its own
        trace.cache = "coalesced"
        self.cache.count(self.req.model, "coalesced")
        reframe = relay.Reframe(ctx.response_id, ctx.created, self.req.include_usage)
        start = {"type": "http.response.start", "status": 200, "headers": _LIVE_HEAD}
        self.started = True
        trace.mark_first_byte()
        ended = await relay.relay(flight, reframe, send, start)
        if ended != "ok":
            trace.outcome = ended
        stop_watch()  # the last byte: a disconnect now is normal
        await send({"type": "http.response.body", "body": b""})
        return True

    async def _lead(
        self, send: Send, watch: ClientWatch, trace: RequestTrace, answer: AnswerFn
    ) -> None:
        """The normal answer; with coalescing, this request leads a flight that its
        followers share, and its client leaving does not end the call while they remain."""
        cache = self.cache
        lead = self.read and cache.config.coalesce and cache.flights.join(self.key) is None
        limit = cache.config.max_entry_bytes
        flight = cache.flights.open(self.key, limit) if lead else None
        record = limit if self.store or flight else 0
        result = (trace.cache or "miss").encode()
        capture = Capture(send, result, record, flight, self.req.stream)
        found: Entry | None = None
        if flight is not None:
            watch.on_disconnect = lambda: _detach(cache.flights, flight, trace)
            flight.cancel_leader = watch.fire
        try:
            await answer(capture)
            found = capture.entry(trace, self.req.stream)
        finally:
            if flight is not None:
                watch.on_disconnect = None
                cache.flights.close(self.key, flight, found, trace.usage)
        if found is not None and self.store:
            await cache.store.set(self.req.model, self.key, entries.encode(found), self.ttl)

    async def _replay(
        self,
        found: Entry,
        result: CacheResult,
        send: Send,
        stop_watch: Callable[[], None],
        trace: RequestTrace,
        ctx: CallContext,
    ) -> None:
        trace.cache = result
        self.cache.count(self.req.model, result, found.cost_usd)
        age = max(0, int(time.time() - found.stored_at))
        marks = [(b"x-proxy-cache", result.encode()), (b"age", str(age).encode())]
        self.started = True
        if self.req.stream:
            body = replay.stream_body(found, ctx.response_id, ctx.created, self.req.include_usage)
            head = [*_SSE_HEAD, *marks]
        else:
            body = replay.completion_body(found, ctx.response_id, ctx.created)
            head = [*_JSON_HEAD, *marks, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        if self.req.stream:
            trace.mark_first_byte()
        await send({"type": "http.response.body", "body": body, "more_body": True})
        stop_watch()  # the last byte: a disconnect now is normal
        await send({"type": "http.response.body", "body": b""})


def _detach(flights: Flights, flight: Flight, trace: RequestTrace) -> bool:
    """The leader's client left: if followers remain, its call goes on for them and its
    own account says client_disconnect (no breaker is charged for it)."""
    if not flight.detach():
        return False
    flights.detached += 1
    trace.outcome, trace.client_disconnected = "client_disconnect", True
    return True


def _ttl(raw: str, max_ttl: int) -> int:
    value = raw.strip()
    if not (value.isascii() and value.isdigit()):
        raise invalid_request(
            "x-proxy-cache-ttl must be a whole number of seconds (0: do not store).",
            code="invalid_cache_ttl",
        )
    return min(int(value), max_ttl)
