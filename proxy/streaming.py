"""One streamed attempt, owned from its upstream response to the client's last byte.

`StreamCall.open` (run by the router's fallback loop) opens the upstream and reads to the
commit point, the first bytes worth sending; any failure there closes the response and is
the router's to judge (fall back or answer). `StreamCall.serve` then owns everything: it
sends the 200, pumps, judges and, in one `finally`, releases the upstream response (and with
it the pool slot), the breaker admission (a half-open probe is never left taken) and the
request's account. Its exits, all in `serve`:

- the upstream ends well: [DONE], success recorded;
- the upstream fails after the commit (stall, cut, malformed or in-band error, the request
  deadline while waiting on it): the good events read so far, then one error event in the
  surface's shape (StreamWire.error_event: OpenAI's `data: {"error": ...}` for chat) and no
  terminator; the breaker is charged;
- a drain pulls the deadline in: a `gateway_shutdown` error event, nobody charged;
- the deadline fires while the client is slow to read: a timeout error event, nobody charged;
- the client stops reading for server.client_idle_timeout: the stream ends (nothing more can
  be sent), nobody charged;
- the client disconnects (the task is cancelled): nobody charged, the cancellation goes on;
- a bug of ours: logged, an internal_error event, nobody charged.

Bytes are re-framed at event boundaries by the pipes and nothing is sent before the first
data event, so a failure never lands inside a half-sent event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from starlette.types import Send

from proxy import metrics
from proxy.client_idle import IdleSend
from proxy.errors import (
    Attempt,
    AttemptEnd,
    Outcome,
    ProxyError,
    UpstreamError,
    internal_error,
    stream_cut_by_shutdown,
    upstream_transport_error,
)
from proxy.lifecycle import Lifecycle
from proxy.providers.base import CallContext, StreamPipe, UpstreamRequest
from proxy.providers.pipes import FailedAfter
from proxy.sse import encode_error_event
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from proxy.breakers import Admission
    from proxy.router import Route

log = logging.getLogger("proxy")
ERROR_BODY_LIMIT = 64 * 1024
SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # tells nginx-style front proxies not to buffer
}
_START_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    *((k.encode(), v.encode()) for k, v in SSE_HEADERS.items()),
]


def openai_error_event(error: ProxyError) -> bytes:
    return encode_error_event(error.to_openai_body())


@dataclass(frozen=True, slots=True)
class StreamWire:
    """What one inbound surface streams over a route, so that StreamCall and the router
    never learn surface names: the upstream request to send, the pipe that turns the
    upstream's bytes into the client's, how a non-2xx upstream answer becomes an error
    (None: the adapter's parse_error), and the surface's in-band error event."""

    build: Callable[[Route, CallContext], UpstreamRequest]
    pipe: Callable[[Route, CallContext], StreamPipe]
    parse_error: Callable[[Route, int, Mapping[str, str], bytes], UpstreamError] | None = None
    error_event: Callable[[ProxyError], bytes] = openai_error_event


class StreamCall:
    def __init__(
        self,
        route: Route,
        admission: Admission,
        trace: RequestTrace,
        deadline: float,
        response: httpx.Response,
        pipe: StreamPipe,
        body: AsyncIterator[bytes] | None,
        first: bytes,
        error_event: Callable[[ProxyError], bytes] = openai_error_event,
    ) -> None:
        self.route = route
        self.admission = admission
        self.trace = trace
        self.deadline = deadline  # loop time by which the whole request must be done
        self.response = response
        self.pipe = pipe
        self.body = body  # None once the upstream body has been read to its end
        self.first = first
        self._verdict_given = False
        self._error_event = error_event

    @classmethod
    async def open(
        cls,
        route: Route,
        admission: Admission,
        trace: RequestTrace,
        wire: StreamWire,
        ctx: CallContext,
        request_id: str,
        deadlines: tuple[float, float],  # (the request's, this attempt's first byte)
    ) -> StreamCall:
        """Open the upstream and read to the commit point; on any failure the response is
        closed here and the exception goes to the router."""
        upstream_req = wire.build(route, ctx)
        deadline, ttfb_at = deadlines
        # A wait for our own pool is not the provider's time: its clock starts after it.
        # The open response takes the slot over; it frees it when it is closed.
        async with route.upstream.slot(deadline) as slot:
            ttfb_at = min(deadline, ttfb_at + slot.waited)
            # Time to first byte, for a stream, lasts until its first real event.
            async with asyncio.timeout_at(ttfb_at):
                tracing = trace.span.headers if trace.span is not None else ()
                response = await route.upstream.open(upstream_req, request_id, slot, tracing)
                try:
                    if not 200 <= response.status_code < 300:
                        error_body = await route.upstream.read_body(response, ERROR_BODY_LIMIT)
                        status, headers = response.status_code, response.headers
                        if wire.parse_error is not None:
                            raise wire.parse_error(route, status, headers, error_body)
                        raise route.adapter.parse_error(status, headers, error_body)
                    pipe = wire.pipe(route, ctx)
                    body: AsyncIterator[bytes] | None = route.upstream.iter_body(response)
                    first = await _first_output(body, pipe) if body is not None else None
                    if first is None:
                        # The whole body arrived before anything was worth sending.
                        first, body = pipe.finish(), None
                except BaseException:
                    await response.aclose()
                    raise
        return cls(route, admission, trace, deadline, response, pipe, body, first, wire.error_event)

    async def serve(
        self, send: Send, lifecycle: Lifecycle, stop_watch: Callable[[], None], idle: float
    ) -> None:
        """Commit (the 200 and the first bytes), pump, judge; always release everything."""
        client = IdleSend(send, idle, asyncio.get_running_loop())
        try:
            failure = await self._pump_and_judge(client, lifecycle)
            if failure is not None:
                error, before = failure
                event = self._error_event(error)
                await client(
                    {"type": "http.response.body", "body": before + event, "more_body": True}
                )
            stop_watch()  # the last byte: a disconnect now is normal
            await client({"type": "http.response.body", "body": b""})
        except asyncio.CancelledError:  # at any send or upstream read above
            if not client.fired:
                self._verdict("client_disconnect")
                raise
            client.absorb_cancel()
            self._verdict("client_idle")
            log.warning("stream ended: the client took no bytes for %gs", idle)
            # Nothing more can be sent: returning unfinished makes uvicorn close the connection.
        finally:
            client.close()
            if not self._verdict_given:
                self.route.health.release(self.admission)
            await self.response.aclose()
            self.trace.usage = self.pipe.usage
            self.trace.finish(499 if self.trace.client_disconnected else 200)

    async def _pump_and_judge(
        self, client: IdleSend, lifecycle: Lifecycle
    ) -> tuple[ProxyError, bytes] | None:
        """Pump to the end and give the verdict; a failure comes back as (the error event
        to send, the good bytes to send before it). Cancellations pass through."""
        try:
            async with asyncio.timeout_at(self.deadline) as timer:
                with lifecycle.stream_deadline(timer):
                    await self._pump(client)
        except (UpstreamError, TimeoutError) as exc:
            return self._upstream_failure(exc, lifecycle, client)
        except Exception as exc:  # a bug of ours: not the client's, not the provider's
            log.exception("stream failed", exc_info=exc)
            self._verdict("internal_error")
            return internal_error(), b""
        self._verdict("ok")
        return None

    async def _pump(self, send: IdleSend) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self._headers()}
        await send(start)
        self.trace.mark_first_byte()
        await send({"type": "http.response.body", "body": self.first, "more_body": True})
        if self.body is None:
            return
        pipe = self.pipe
        async for raw in self.body:
            out = pipe.feed(raw)
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
        closing = pipe.finish()
        await send({"type": "http.response.body", "body": closing, "more_body": True})

    def _upstream_failure(
        self, exc: UpstreamError | TimeoutError, lifecycle: Lifecycle, client: IdleSend
    ) -> tuple[ProxyError, bytes]:
        """Judge a failure after the commit: (the error event to send, good bytes before it)."""
        if isinstance(exc, UpstreamError):
            self._verdict(exc.outcome, exc)
            return exc, exc.before if isinstance(exc, FailedAfter) else b""
        if lifecycle.draining:
            self._verdict("gateway_shutdown")  # our shutdown, not the provider's fault
            return stream_cut_by_shutdown(), b""
        detail = "the stream ran past the request deadline"
        if client.broken:
            detail += " while the client was slow to read"
        error = upstream_transport_error(self.route.name, "timeout", detail)
        # The deadline found us waiting on the client: not the provider's fault.
        self._verdict("timeout", None if client.broken else error)
        return error, b""

    def _verdict(self, outcome: Outcome | AttemptEnd, error: UpstreamError | None = None) -> None:
        """Record how the attempt ended: breaker, metrics, the trace and its attempt line.
        Only the first verdict counts (a client may leave while its error event is sent)."""
        if self._verdict_given:
            return
        self._verdict_given = True
        health, admission, trace = self.route.health, self.admission, self.trace
        if outcome == "ok":
            health.record_success(admission)
        elif error is not None and error.counts_for_breaker:
            health.record_failure(admission, error)
        else:
            health.release(admission, error)
        metrics.observe_attempt(self.route.name, outcome, None)
        if trace.span is not None:  # tracing on: the attempt's span ends with the stream
            trace.span.end_attempt(outcome, error)
        if outcome == "ok":
            return
        trace.outcome = outcome
        trace.client_disconnected = outcome == "client_disconnect"
        if trace.attempts:
            trace.attempts[-1] = Attempt(self.route.name, outcome)

    def _headers(self) -> list[tuple[bytes, bytes]]:
        return [*_START_HEADERS, *served(self.trace)]


def served(trace: RequestTrace) -> list[tuple[bytes, bytes]]:
    """Which deployment answered, for the client's debugging."""
    attempts = sum(not a.outcome.startswith("skipped") for a in trace.attempts)
    return [
        (b"x-proxy-provider", trace.provider.encode()),
        (b"x-proxy-upstream-model", (trace.upstream_model or "").encode()),
        (b"x-proxy-attempts", str(attempts).encode()),
        *trace.rate_headers,
    ]


async def _first_output(body: AsyncIterator[bytes], pipe: StreamPipe) -> bytes | None:
    async for raw in body:
        out = pipe.feed(raw)
        if out:
            return out
    return None
