"""The connection's transport as the HTTP protocol (http_protocol.py) writes to it: a
response's head and body leave in one write, and a close can wait for a request's body.

uvicorn writes the status line and headers the moment the app sends `http.response.start`,
and the body separately: two syscalls and two TCP segments for every small answer, so the
client wakes up twice. Here a write waits for the next one, or for the end of the current
event-loop iteration, whichever comes first, and the two leave together. Nothing waits on
a timer: a stream's event is held at most until the handler next awaits, which is when it
would have been sent anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class CoalescingTransport:
    """Wraps the connection's transport; everything but writing and closing is passed
    through. `close()` leaves the socket open when `linger()` says it drains the rest of a
    request (the protocol then closes with `close_now()`)."""

    __slots__ = ("_closed", "_flush_handle", "_held", "_linger", "_loop", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        linger: Callable[[], bool] | None = None,
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._closed = False
        self._linger = linger

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._flush_handle = self._loop.call_soon(self.flush)
            return
        self._held = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._transport.write(held + data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        self._flush_handle = None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def get_write_buffer_size(self) -> int:
        held = len(self._held) if self._held is not None else 0
        return self._transport.get_write_buffer_size() + held

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def is_closing(self) -> bool:
        return self._closed or self._transport.is_closing()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.flush()
        if self._linger is not None and self._linger():
            return  # the protocol drains the request's body, then calls close_now()
        self._transport.close()

    def close_now(self) -> None:
        self._closed = True
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._closed = True
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
