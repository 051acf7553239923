"""CoalescingTransport: a write waits for the next one or the end of the loop iteration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from proxy.http_protocol import CoalescingHttpToolsProtocol, CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def write_eof(self) -> None:
        self.eof = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 8080) if name in ("peername", "sockname") else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def wrap() -> tuple[CoalescingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return CoalescingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_head_and_body_leave_in_one_write() -> None:
    outer, inner = wrap()
    outer.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert inner.writes == []
    outer.write(b"body")
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    await asyncio.sleep(0)  # the cancelled end-of-iteration flush writes nothing more
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


async def test_a_lone_write_leaves_at_the_end_of_the_iteration() -> None:
    outer, inner = wrap()
    outer.write(b"data: 1\n\n")
    assert outer.get_write_buffer_size() == len(b"data: 1\n\n")
    await asyncio.sleep(0)
    assert inner.writes == [b"data: 1\n\n"]
    assert outer.get_write_buffer_size() == 0


async def test_order_is_kept_over_many_writes() -> None:
    outer, inner = wrap()
    for i in range(5):
        outer.write(b"%d" % i)
    await asyncio.sleep(0)
    assert b"".join(inner.writes) == b"01234"
    assert inner.writes == [b"01", b"23", b"4"]


@pytest.mark.parametrize("ending", ["close", "write_eof"])
async def test_close_and_eof_send_what_is_held_first(ending: str) -> None:
    outer, inner = wrap()
    outer.write(b"last words")
    getattr(outer, ending)()
    assert inner.writes == [b"last words"]
    assert inner.closed or inner.eof
    await asyncio.sleep(0)
    assert inner.writes == [b"last words"]


async def test_abort_drops_what_is_held() -> None:
    outer, inner = wrap()
    outer.write(b"never sent")
    outer.abort()
    await asyncio.sleep(0)
    assert inner.aborted and inner.writes == []


async def test_nothing_is_written_to_a_closing_transport() -> None:
    outer, inner = wrap()
    outer.write(b"late")
    inner.closed = True  # the peer went away in the meantime
    await asyncio.sleep(0)
    assert inner.writes == []


async def test_everything_else_is_passed_through() -> None:
    outer, _ = wrap()
    assert outer.get_extra_info("peername") == ("127.0.0.1", 8080)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.mark.parametrize(
    ("protocol", "writes"), [(CoalescingHttpToolsProtocol, 1), (HttpToolsProtocol, 2)]
)
async def test_the_protocol_sends_head_and_body_in_one_write(
    protocol: type[HttpToolsProtocol], writes: int
) -> None:
    """Against uvicorn's own protocol (2 writes), so this test can tell the difference."""
    config = uvicorn.Config(_app, lifespan="off", log_level="warning")
    config.load()
    server = protocol(config, ServerState(), {})
    inner = RecordingTransport()
    server.connection_made(inner)  # type: ignore[arg-type]
    server.data_received(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(inner.writes) == writes
    assert b"".join(inner.writes).startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"".join(inner.writes).endswith(b"\r\n\r\nhello")
