"""POST /v1/chat/completions as a raw ASGI handler: authenticate, validate, route, answer.

This is the hot path, so it skips Starlette's request/response objects and router (the
other endpoints, in endpoints.py, keep them). The request's account (metrics and its log
line) is written after the last byte is sent, so it never delays the answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from proxy import metrics
from proxy.asgi import (
    JSON_TYPE,
    ClientDisconnected,
    first_headers,
    read_body,
    send_error,
    send_whole,
)
from proxy.errors import ProxyError, internal_error, unsupported_media_type
from proxy.ids import new_id
from proxy.request import parse_chat_request
from proxy.router import new_context
from proxy.streaming import served
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from proxy.state import Gateway

log = logging.getLogger("proxy")
_WANTED = frozenset({b"authorization", b"x-api-key", b"content-type", b"content-length"})
_JSON_CONTENT = re.compile(r"^\s*application/([\w.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)

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
        try:
            await self._serve(scope, receive, send, request_id, trace)
        except ProxyError as error:
            trace.outcome = getattr(error, "outcome", None) or error.code or error.type
            await send_error(send, error)
            trace.finish(error.status)
        except ClientDisconnected:
            trace.outcome, trace.client_disconnected = "client_disconnect", True
            trace.finish(499)  # nobody reads an answer; nginx's code for the record
        except Exception as exc:
            if trace.finished:
                raise  # a stream whose account is written: uvicorn closes the connection
            log.exception("unhandled error", exc_info=exc)
            await send_error(send, internal_error())
            trace.finish(500)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, trace: RequestTrace
    ) -> None:
        state = self.gateway.state
        assert state is not None  # set in the lifespan, before any request
        headers = first_headers(scope["headers"], _WANTED)
        state.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
        content_type = headers.get(b"content-type")
        if content_type is not None and not _JSON_CONTENT.match(content_type):
            raise unsupported_media_type(content_type)
        raw = await read_body(receive, state.max_body_bytes, headers.get(b"content-length"))
        req = parse_chat_request(raw)
        trace.model = state.model_label(req.model)
        trace.stream = req.stream
        ctx = new_context(req, f"chatcmpl-{new_id()}")
        loop = self._loop or self._bind_loop()
        bounded = self.gateway.lifecycle.bounded  # a drain ends the wait with a 503
        with DisconnectWatch(receive, loop) as watch:
            if req.stream:
                stream = await bounded(state.router.open_stream(req, ctx, request_id, trace))
                # From here the stream owns its upstream, admission and account (streaming.py).
                idle = state.config.server.client_idle_timeout
                await stream.serve(send, self.gateway.lifecycle, watch.stop, idle)
                return
            reply = await bounded(state.router.complete(req, ctx, request_id, trace))
            trace.usage = reply.usage
            # Sent inside the watch: a disconnect seen before stop() surfaces as
            # ClientDisconnected here, not as a stray cancellation after the block.
            watch.stop()
            await send_whole(send, 200, reply.body, [(b"content-type", JSON_TYPE), *served(trace)])
        trace.finish(200)

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # Looked up once: on Python 3.11 every lookup of the running loop is a getpid().
        self._loop = asyncio.get_running_loop()
        return self._loop


class DisconnectWatch:
    """Cancels the request's task if its client disconnects, so the upstream call (and its
    bill) stops too; the cancellation surfaces as ClientDisconnected, also when the block
    ended without seeing it. Starts only after WATCH_AFTER, and must not start before the
    request body has been read. The answer's sends happen inside the block, so no
    cancellation of the watch's can land after it."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._fired = False
        self._watcher: asyncio.Task[None] | None = None
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
                self._fired = True
                self._task.cancel()
                return
