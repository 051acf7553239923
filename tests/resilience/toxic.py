"""A small toxic TCP proxy for faults below HTTP (a Toxiproxy of our own, on loopback).

Listens on 127.0.0.1:0 and forwards every connection to a target port. The request
direction always passes untouched; the response direction gets the fault:

- pass:    forward everything;
- stall:   forward `after` bytes, then nothing more (sockets stay open);
- reset:   forward `after` bytes, then RST the client side (SO_LINGER 0);
- drip:    forward `after` bytes, then `slice` bytes every `latency` seconds;
- refuse:  accept, then RST at once without reading (counts as a connection attempt).

With `after_headers=True` the threshold counts from the end of the first response's
headers (the first CRLFCRLF), so a test can let the status line through and fault the body.
`connections` counts accepted connections; `client_closed_at` records when the proxy (our
client side) closed a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from typing import Literal

Mode = Literal["pass", "stall", "reset", "drip", "refuse"]
FOREVER = 3600.0


class Toxic:
    def __init__(
        self,
        target_port: int,
        mode: Mode = "pass",
        after: int = 0,
        after_headers: bool = False,
        slice: int = 1,
        latency: float = 0.0,
    ) -> None:
        self.target_port = target_port
        self.mode: Mode = mode
        self.after = after
        self.after_headers = after_headers
        self.slice = slice
        self.latency = latency
        self.connections = 0
        self.client_closed_at: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    def start(self) -> Toxic:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        )
        self._server = future.result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            # Let the handlers unwind on this loop, not later at garbage collection.
            if tasks:
                await asyncio.wait(tasks, timeout=2)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        if self.mode == "refuse":
            _reset(client_w)
            self._tasks.discard(task)
            return
        self._writers.add(client_w)
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            _reset(client_w)
            self._writers.discard(client_w)
            self._tasks.discard(task)
            return
        self._writers.add(upstream_w)
        up = asyncio.ensure_future(self._forward(client_r, upstream_w))
        down = asyncio.ensure_future(self._respond(upstream_r, client_w))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up in done:
                self.client_closed_at.append(time.monotonic())
        finally:
            for t in (up, down):
                t.cancel()
                with contextlib.suppress(BaseException):
                    await t
            for w in (client_w, upstream_w):
                w.transport.abort()
                self._writers.discard(w)
            self._tasks.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(10_000_000):
                data = await reader.read(65536)
                if not data:
                    return
                writer.write(data)
                await writer.drain()

    async def _respond(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent = 0
        threshold: int | None = None if self.after_headers else self.after
        seen = b""
        with contextlib.suppress(ConnectionError):
            for _ in range(10_000_000):
                data = await reader.read(65536)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    await asyncio.sleep(FOREVER)  # the client closes; `up` ends the pair
                if threshold is None:
                    seen += data
                    end = seen.find(b"\r\n\r\n")
                    if end >= 0:
                        threshold = end + 4 + self.after
                if self.mode == "pass" or threshold is None or sent + len(data) <= threshold:
                    writer.write(data)
                    await writer.drain()
                    sent += len(data)
                    continue
                head, rest = data[: threshold - sent], data[threshold - sent :]
                if head:
                    writer.write(head)
                    await writer.drain()
                    sent += len(head)
                await self._fault(rest, writer)

    async def _fault(self, rest: bytes, writer: asyncio.StreamWriter) -> None:
        if self.mode == "stall":
            await asyncio.sleep(FOREVER)
        elif self.mode == "reset":
            await asyncio.sleep(0.05)  # let the bytes already written reach the peer
            _reset(writer)
            raise ConnectionResetError
        elif self.mode == "drip":
            for i in range(0, len(rest), self.slice):
                await asyncio.sleep(self.latency)
                writer.write(rest[i : i + self.slice])
                await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
