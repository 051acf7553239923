"""POST /v1/chat/completions as a raw ASGI handler: authenticate, validate, route, answer.

This is the hot path, so it skips Starlette's request/response objects and router (the
other endpoints, in endpoints.py, keep them). The request's account (metrics and its log
line) is written after the last byte is sent, so it never delays the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from proxy import metrics
from proxy.answer import answer_failures
from proxy.asgi import (
    JSON_TYPE,
    ClientDisconnected,
    first_headers,
    read_json_body,
    send_error,
    send_whole,
)
from proxy.cache.keys import request_scope
from proxy.ids import new_id
from proxy.providers.base import CallContext
from proxy.request import ChatRequest, parse_chat_request
from proxy.router import new_context
from proxy.streaming import served
from proxy.tenancy.gate import settle
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from proxy.state import Gateway

log = logging.getLogger("proxy")
_WANTED = frozenset(
    {
        b"authorization",
        b"x-api-key",
        b"content-type",
        b"content-length",
        b"cache-control",  # read only for cacheable models (proxy/cache)
        b"x-proxy-cache-ttl",
        b"x-proxy-route",
        b"traceparent",
        b"tracestate",
    }
)

# Watching for a disconnect costs a task per request; a request answered within this time
# does not need one, and a slower one is still cancelled well within a second.
WATCH_AFTER = 0.05


class ChatEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._loop: asyncio.AbstractEventLoop | None = None  # the serving loop, once known

    refuse = staticmethod(send_error)  # the edge's refusals (overload, drain), OpenAI-shaped

    async def __call__(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        trace = RequestTrace(metrics.OTHER, stream=False)
        await answer_failures(
            self._serve(scope, receive, send, request_id, trace), send, trace, send_error
        )

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, trace: RequestTrace
    ) -> None:
        state = self.gateway.state
        assert state is not None  # set in the lifespan, before any request
        headers = first_headers(scope["headers"], _WANTED)
        if state.tracer is not None:  # tracing on (proxy/tracing.py)
            trace.span = state.tracer.start(headers)
        who = state.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
        raw = await read_json_body(receive, headers, state.max_body_bytes)
        req = parse_chat_request(raw, state.config.server.max_request_models)
        trace.model = state.model_label(req.model)
        trace.stream = req.stream
        trace.models, trace.route = req.models, headers.get(b"x-proxy-route")
        if trace.span is not None:
            trace.span.request(req, trace.route)
        # Named keys (tenancy/gate.py): model access first (a cached answer is no way around
        # it), then the reservation. A config without them pays one attribute test here and
        # one in `finally` (a try costs nothing in CPython 3.11 until it raises).
        reservation = None
        if state.auth.policy is not None:
            reservation = await state.gate.enter(who, req.model, len(raw), req.body, trace)
        # A named key's stream asks the upstream for usage even if the client did not.
        ctx = new_context(req, f"chatcmpl-{new_id()}", reservation is not None)
        # The response cache (proxy/cache): None, or a set lookup, for a model without it.
        cache = state.cache
        plan = None
        if cache is not None and req.model in cache.models:
            owner = request_scope(
                cache.config.scope == "global",
                who.name,
                headers.get(b"authorization"),
                headers.get(b"x-api-key"),
            )
            ttl = headers.get(b"x-proxy-cache-ttl")
            plan = cache.plan(req, owner, headers.get(b"cache-control"), ttl)
        loop = self._loop or self._bind_loop()
        try:
            with DisconnectWatch(receive, loop) as watch:
                if plan is None:
                    await self._answer(req, ctx, request_id, trace, send, watch.stop)
                else:

                    async def answer(out: Send) -> None:
                        await self._answer(req, ctx, request_id, trace, out, watch.stop)

                    await plan.serve(send, watch, trace, ctx, answer)
            # A no-op for a stream: its pump wrote its account. 499: a coalescing leader whose
            # client left while its call went on for its followers (proxy/cache/flights.py).
            trace.finish(499 if trace.client_disconnected else 200)
        finally:  # every exit: answered, failed, cancelled, disconnected
            if reservation is not None:
                await settle(reservation, trace)

    async def _answer(
        self,
        req: ChatRequest,
        ctx: CallContext,
        request_id: str,
        trace: RequestTrace,
        send: Send,
        stop_watch: Callable[[], None],
    ) -> None:
        """The upstream answer, streamed or whole, sent to `send`."""
        state = self.gateway.state
        assert state is not None
        bounded = self.gateway.lifecycle.bounded  # a drain ends the wait with a 503
        if req.stream:
            stream = await bounded(state.router.open_stream(req, ctx, request_id, trace))
            # From here the stream owns its upstream, admission and account (streaming.py).
            idle = state.config.server.client_idle_timeout
            await stream.serve(send, self.gateway.lifecycle, stop_watch, idle)
            return
        reply = await bounded(state.router.complete(req, ctx, request_id, trace))
        trace.usage = reply.usage
        if trace.span is not None:
            trace.span.reply(reply)
        body = reply.body
        # The adapter's parsed answer (reply.answer, for tracing) can be many times the
        # body's size: not held while the body is sent to a slow client.
        del reply
        # Sent inside the watch: a disconnect seen before stop() surfaces as
        # ClientDisconnected here, not as a stray cancellation after the block.
        stop_watch()
        await send_whole(send, 200, body, [(b"content-type", JSON_TYPE), *served(trace)])

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # Looked up once: on Python 3.11 every lookup of the running loop is a getpid().
        self._loop = asyncio.get_running_loop()
        return self._loop


class DisconnectWatch:
    """Cancels the request's task if its client disconnects, so the upstream call (and its
    bill) stops too; the cancellation surfaces as ClientDisconnected, also when the block
    ended without seeing it. Starts only after WATCH_AFTER, and must not start before the
    request body has been read. The answer's sends happen inside the block, so no
    cancellation of the watch's can land after it. A coalescing leader sets `on_disconnect`:
    while it returns True the call goes on for the followers (and `fire` stops it later)."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._fired = False
        self._watcher: asyncio.Task[None] | None = None
        self.on_disconnect: Callable[[], bool] | None = None
        task = asyncio.current_task(loop)
        assert task is not None
        self._task = task
        self._loop = loop
        self._timer = self._loop.call_later(WATCH_AFTER, self._start)

    def __enter__(self) -> DisconnectWatch:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.stop()
        if self._fired and (exc is None or isinstance(exc, asyncio.CancelledError)):
            # Also when the block ended without seeing the cancellation (it fired in the
            # iteration the block returned, or an awaited library swallowed it): the client
            # is gone either way, and its account must say so now.
            self._task.uncancel()
            raise ClientDisconnected from None

    def stop(self) -> None:
        """Stop watching: call before the last byte, after which a disconnect is normal."""
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()

    def _start(self) -> None:
        self._watcher = self._loop.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if self.on_disconnect is None or not self.on_disconnect():
                    self.fire()
                return

    def fire(self) -> None:
        """The client is gone and nothing is left to do for it: cancel the request."""
        self._fired = True
        self._task.cancel()
