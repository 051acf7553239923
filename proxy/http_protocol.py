"""uvicorn's httptools protocol, bounded, with a response's head and body sent in one write.

Bounds (design.md §5; limits and their shared state in http_limits.py). uvicorn bounds
nothing a client sends before the app runs: headers grow without limit (and httptools joins
a header's pieces by repeated concatenation, quadratic in its length), a connection that
never finishes its headers or its body lives forever, and accepting stops only when the
process runs out of descriptors. Here, per connection:
- the request line and headers may take `max_header_bytes` and `max_headers` fields, counted
  as bytes arrive, before the parser sees them: beyond, 431 and close, in linear time;
- headers must be complete `header_timeout` after accept (or after a request's first bytes,
  on a kept-alive connection): else 408 (or a silent close if nothing came) and close;
- a body must be complete `body_timeout` after its headers: else 408 and close, and the app
  sees a disconnect, so its in-flight slot is freed;
- body bytes are charged to the process's body budget as they arrive, at their parsed size,
  and released when the response completes: beyond the budget, 503 + Retry-After and close;
- beyond `max_connections` open connections a new one closes the connection idle longest
  (no request in progress), or, if every one is busy, gets 503 and is closed.
A response that starts before its request has fully arrived carries `Connection: close`
(RFC 9110 §10.1.1): a client told to wait for `100 Continue` may send its next request in
place of the body it was never asked for. If the client was already sending that body, the
connection is closed only once the body has ended (or at the body deadline), so the client
reads its answer instead of a reset.

Writes go through CoalescingTransport (http_transport.py): head and body in one write.
Subclassing uvicorn's protocol ties us to its internals: pyproject pins uvicorn's minor.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from proxy.config import ServerConfig
from proxy.errors import ProxyError
from proxy.http_errors import (
    body_memory_exhausted,
    body_too_costly,
    header_too_large,
    request_timeout,
    too_many_connections,
)
from proxy.http_limits import STATE_KEY, HttpGuard, HttpLimits, raw_response
from proxy.http_transport import CoalescingTransport

__all__ = ["CoalescingHttpToolsProtocol", "CoalescingTransport"]


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past its bounds."""


_default_guard: HttpGuard | None = None


def _guard_of(app_state: dict[str, Any]) -> HttpGuard:
    """The app's guard (set in its lifespan); the defaults for an app without one."""
    guard = app_state.get(STATE_KEY)
    if isinstance(guard, HttpGuard):
        return guard
    global _default_guard
    if _default_guard is None:
        _default_guard = HttpGuard(HttpLimits.from_server(ServerConfig()))
    return _default_guard


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """Pass as uvicorn's `http=` setting."""

    # Slots, not the instance dict: uvicorn's ~28 attributes fill it, and past 30 keys
    # CPython stops sharing dict keys, which made every `self.x` lookup, uvicorn's own
    # included, measurably slower (+18% instructions per request).
    __slots__ = (
        "_body_seen",
        "_body_timer",
        "_charged",
        "_declared",
        "_head_error",
        "_head_room",
        "_head_started",
        "_head_timer",
        "_in_head",
        "_keep_alive",
        "_max_headers",
        "_prepaid",
        "_socket",
        "_wrapped",
        "guard",
        "limits",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = _guard_of(app_state)
        self.limits = self.guard.limits
        self._max_headers = self.limits.max_headers
        self._head_room = self.limits.max_header_bytes  # bytes the current head may still take
        self._in_head = True  # bytes arriving now belong to a head (not to a body)
        self._head_started = False  # the parser has begun a request whose head is incomplete
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._charged = 0  # body budget bytes held by this connection's request
        self._prepaid = 0  # of which reserved from Content-Length, not yet arrived
        self._declared: bytes | None = None  # this request's Content-Length
        self._keep_alive = True  # the request's keep-alive, while its body is arriving
        self._body_seen = False  # some of this request's body has arrived
        self._head_error: ProxyError | None = None
        self._socket: asyncio.Transport = None  # type: ignore[assignment]
        self._wrapped: CoalescingTransport = None  # type: ignore[assignment]

    # --- connection --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._socket = transport
        self._wrapped = CoalescingTransport(transport, self.loop, self._linger)
        wrapped: Any = self._wrapped
        super().connection_made(wrapped)
        if len(self.connections) > self.limits.max_connections and not self._evict_one():
            self._refuse(too_many_connections(), "connection_limit")
            return
        self.guard.idle[self] = None
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.idle.pop(self, None)
        self._cancel_timers()
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._socket.is_closing():
            return  # refused or timed out: what is still in flight is not parsed
        if self._in_head:
            if len(data) > self._head_room:
                self._feed_head(data)
            else:
                self._head_room -= len(data)
                self._feed(data)
        else:
            self._feed(data)
        if self._socket.is_closing():
            return
        # Deadlines are armed only for the slow: a head or body that did not come whole.
        if self._head_started:
            if self._head_timer is None:
                timeout = self.limits.header_timeout
                self._head_timer = self.loop.call_later(timeout, self._head_expired)
        elif not self._in_head and self._body_timer is None and self._body_pending():
            self._arm_body_timer()

    def _body_pending(self) -> bool:
        cycle = self.cycle
        return cycle is not None and cycle.more_body and not cycle.response_complete

    def _feed_head(self, data: bytes) -> None:
        """Feed no more than the head's room while a head is open: the parser never holds
        more than `max_header_bytes` of one (the common case never comes here)."""
        while data and not self._socket.is_closing():
            if not self._in_head:
                self._feed(data)
                return
            if self._head_room <= 0:
                self._refuse(self._too_large(), "header_too_large")
                return
            piece, data = data[: self._head_room], data[self._head_room :]
            self._head_room -= len(piece)
            self._feed(piece)

    def _feed(self, data: bytes) -> None:
        """uvicorn's data_received, with a head refused past its bounds answered 431."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if self._head_error is not None:
                self._refuse(self._head_error, "header_too_large")
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)

    # --- parser callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        # The keep-alive timer stops at a request's first byte, not at any byte: a client
        # sending only blank lines between requests does not hold its connection open.
        self._unset_keepalive_if_required()
        self._head_started = True
        self._declared = None
        self._body_seen = False
        HttpToolsProtocol.on_message_begin(self)  # not super(): one object fewer a request

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers
        if len(headers) >= self._max_headers:
            self._head_error = self._too_large()
            raise _HeadTooLarge
        name = name.lower()
        if name == b"content-length":
            self._declared = value
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = self._head_started = False
        self.guard.idle.pop(self, None)  # a request is in progress: not evictable
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        HttpToolsProtocol.on_headers_complete(self)  # not super(): one object fewer a request
        # Until its body has arrived, an answer ends the connection (see the module
        # docstring): uvicorn then sends `connection: close`. on_message_complete gives the
        # connection back its keep-alive if the app has not answered by then.
        cycle = self.cycle
        if cycle is not None:
            self._keep_alive = cycle.keep_alive
            cycle.keep_alive = False
        if self._declared is not None:
            self._reserve_declared(self._declared)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        self._body_seen = True
        if cycle.response_complete or cycle.disconnected:
            return
        if self.parser.should_upgrade() and self._should_upgrade():
            return
        raw_part = 2 * len(body)
        if self._prepaid:  # the raw part was reserved from Content-Length
            covered = min(self._prepaid, raw_part)
            self._prepaid -= covered
            raw_part -= covered
        charged, cost = self.guard.charge_body(body, raw_part)
        if not charged:
            self._over_budget(cost)
            return
        self._charged += cost
        cycle.body += body
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_room = self.limits.max_header_bytes
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if self._wrapped.is_closing() and not self._socket.is_closing():
            self._wrapped.close_now()  # lingering: the rest of the request has been drained
            return
        if self.parser.should_upgrade() and self._should_upgrade():
            return  # a WebSocket handshake: no request cycle (uvicorn's own check)
        cycle = self.cycle
        if not cycle.response_started:
            cycle.keep_alive = self._keep_alive
        HttpToolsProtocol.on_message_complete(self)  # not super(): one object fewer a request

    def on_response_complete(self) -> None:
        if self._charged:
            self._release()
        if not self.pipeline and not self._wrapped.is_closing():
            self.guard.idle[self] = None  # newest idle: evicted last
        HttpToolsProtocol.on_response_complete(self)  # not super(): one object fewer a request

    # --- bounds ------------------------------------------------------------------------

    def _evict_one(self) -> bool:
        """At the connection limit: close the connection idle longest (a slow or stalled head,
        or a kept-alive connection between requests) to make room; False if none is idle.
        A flood of connections that send nothing cannot then lock out a client (or a
        health probe) that sends its request at once."""
        victim = self.guard.oldest_idle()
        if victim is None:
            return False
        self.guard.refused("connection_evicted", self.loop.time())
        victim._wrapped.close_now()
        return True

    def _too_large(self) -> ProxyError:
        return header_too_large(self.limits.max_header_bytes, self.limits.max_headers)

    def _head_expired(self) -> None:
        self._head_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined head waits on the answer before it, which may be a long stream.
            timeout = self.limits.header_timeout
            self._head_timer = self.loop.call_later(timeout, self._head_expired)
            return
        if self._head_started:
            self._refuse(request_timeout("headers", self.limits.header_timeout), "header_timeout")
        else:
            self.guard.refused("header_timeout", self.loop.time())
            self._wrapped.close_now()

    def _arm_body_timer(self) -> None:
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_expired)

    def _body_expired(self) -> None:
        self._body_timer = None
        if self.cycle.response_started or self._wrapped.is_closing():
            self._wrapped.close_now()  # answered already (or draining): stop waiting
            return
        self._refuse(request_timeout("body", self.limits.body_timeout), "body_timeout")

    def _reserve_declared(self, declared: bytes) -> None:
        """Reserve a declared body's raw part (2 bytes a byte: the pieces read, then joined or
        parsed) before it arrives, so that concurrent uploads are admitted in turn rather
        than all refused halfway. A length over max_body_bytes is the app's 413."""
        self._declared = None
        if not declared.isdigit():
            return  # the parser refuses it
        size = int(declared)
        if size == 0 or size > self.limits.max_body_bytes:
            return
        if self.guard.charge(2 * size):
            self._charged += 2 * size
            self._prepaid += 2 * size
        else:
            self._over_budget(2 * size)

    def _over_budget(self, cost: int) -> None:
        limit = self.limits.max_buffered_bytes
        alone = self._charged + cost > limit
        error = body_too_costly(limit) if alone else body_memory_exhausted()
        self._refuse(error, "body_too_costly" if alone else "body_memory", drain=True)

    def _linger(self) -> bool:
        """On close: if the request's body is still arriving, keep reading (and dropping) it
        until it ends, bounded by the body deadline, so that the client reads its answer
        rather than a reset. Not for a client still waiting for `100 Continue`: it sends no
        body (and may send its next request instead, which must not be taken for one)."""
        cycle = self.cycle
        if cycle is None or not cycle.more_body or self._socket.is_closing():
            return False
        if self.expect_100_continue and not self._body_seen:
            return False
        self.flow.resume_reading()
        if self._body_timer is None:
            self._arm_body_timer()
        return True

    def shutdown(self) -> None:
        self._keep_alive = False  # a request still arriving does not get it back
        super().shutdown()

    def _refuse(self, error: ProxyError, reason: str, drain: bool = False) -> None:
        """Answer `error` (unless another response is on the wire) and close. The app, if it
        is running for this request, sees a disconnect: its in-flight slot is freed. With
        `drain`, a body the client is sending is read to its end first (bounded by the body
        deadline), so that the client reads the answer rather than a reset."""
        self.guard.refused(reason, self.loop.time())
        if self.pipeline:  # an earlier answer is still being written: do not cut into it
            self._release()
            self._wrapped.close_now()
            return
        cycle = self.cycle
        current = cycle is not None and not cycle.response_complete
        if not current or not cycle.response_started:
            self._wrapped.write(raw_response(error))
        if not current:
            self._wrapped.close_now()
            return
        cycle.disconnected = True
        cycle.message_event.set()
        self._release()  # the app lets go of what it read as it unwinds
        if drain:
            self._wrapped.close()  # drains a body on its way (see _linger)
        else:
            self._wrapped.close_now()

    def _release(self) -> None:
        if self._charged:
            self.guard.release(self._charged)
            self._charged = self._prepaid = 0

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None
