"""A scripted, fault-injecting upstream: a raw asyncio HTTP/1.1 server on 127.0.0.1.

It speaks any of the wire formats in formats.py and replays a transcript with one fault
chosen by the test: an HTTP status, a delay before the headers, a stall, a clean close or a
TCP reset (SO_LINGER 0) after N events, replaced events (malformed SSE), or a body of any
size streamed without holding it in memory. Being a raw server it sees what an ASGI app
cannot: accepted connections, and the moment the peer (the proxy) goes away while a
response is still being produced (`Recorded.ended_at` with outcome "disconnected").

The server runs its own event loop in a daemon thread; all counters are plain attributes
read by the test thread (monotonic times are comparable across threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.fakes.formats import OPENAI, WireFormat
from tests.waiting import wait_until

FOREVER = 3600.0
HOLD_LIMIT = 10.0


@dataclass
class Script:
    """What the fake answers. Event indexes count from 0 in the (possibly replaced) transcript."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # non-stream or error body; default: the format's answer/error
    body_chunks: Callable[[], Iterable[bytes]] | None = None  # a body of any size, chunked
    events: list[bytes] | None = None  # stream events; default: the format's transcript
    delay_headers: float = 0.0
    hold_headers: threading.Event | None = None  # answer only once the test sets it (bounded)
    event_delay: float = 0.0  # before every event but the first
    stall_after: int | None = None  # send this many events, then go silent (socket open)
    close_after: int | None = None  # send this many events, then end the body cleanly + FIN
    reset_after: int | None = None  # send this many events, then RST (SO_LINGER 0)
    # Event index -> a threading.Event the test sets; that event is held until then (at most
    # HOLD_LIMIT s): lock-step streams, e.g. "event i+1 only once the client has event i".
    hold: dict[int, threading.Event] = field(default_factory=dict)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    outcome: str = "pending"  # completed | disconnected | stalled | closed | reset | failed
    ended_at: float | None = None
    sent_times: list[float] = field(default_factory=list)  # one per event, after the write
    bytes_sent: int = 0
    raw: bytes = b""  # the request body exactly as received

    def user_text(self) -> str:
        """The last user message's text (OpenAI and Anthropic shapes; Gemini contents)."""
        body = self.body if isinstance(self.body, dict) else {}
        for message in reversed(body.get("messages") or []):
            if message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, list):
                    return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
                return str(content)
        for content in reversed(body.get("contents") or []):
            parts = content.get("parts") or []
            return " ".join(p.get("text", "") for p in parts if isinstance(p, dict))
        return ""


class _PeerGone(Exception):
    pass


class ScriptedUpstream:
    def __init__(
        self,
        fmt: WireFormat = OPENAI,
        script: Script | None = None,
        choose: Callable[[Recorded], Script] | None = None,
    ) -> None:
        self.fmt = fmt
        self.script = script or Script()
        self.choose = choose  # per-request script, overrides `script`
        self.connections = 0
        self.requests: list[Recorded] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> ScriptedUpstream:
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

    @property
    def hits(self) -> int:
        return len(self.requests)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            for task in list(self._tasks):
                task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def wait_until(self, check: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll `check` (bounded) until true; for outcomes recorded by the server thread."""
        return wait_until(check, timeout)

    # --- connection handling ----------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                path, headers, raw = request
                try:
                    body: Any = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    body = raw
                record = Recorded(path, headers, body, time.monotonic(), raw=raw)
                self.requests.append(record)
                script = self.choose(record) if self.choose else self.script
                keep_alive = await self._answer(record, script, reader, writer)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()

    async def _answer(
        self,
        record: Recorded,
        script: Script,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Produce the response while watching for the peer to go away; True = keep-alive."""
        sender = asyncio.ensure_future(self._send(record, script, writer))
        watcher = asyncio.ensure_future(reader.read(1))
        try:
            done, _ = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                return sender.result()
            # The peer closed (b"") or reset while we were still answering.
            with contextlib.suppress(ConnectionError):
                watcher.result()
            self._end(record, "disconnected")
            return False
        except (ConnectionError, _PeerGone):
            self._end(record, "disconnected")
            return False
        finally:
            for task in (sender, watcher):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task  # also marks a failed task's exception as retrieved

    def _end(self, record: Recorded, outcome: str) -> None:
        if record.ended_at is None:
            record.outcome = outcome
            record.ended_at = time.monotonic()

    async def _send(self, record: Recorded, script: Script, writer: asyncio.StreamWriter) -> bool:
        if script.hold_headers is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, script.hold_headers.wait, HOLD_LIMIT
            )
        if script.delay_headers:
            await asyncio.sleep(script.delay_headers)
        stream = self.fmt.is_stream(record.path, record.body)
        if script.status != 200 or not stream:
            return await self._send_whole(record, script, writer)
        head = _head(
            200,
            {
                "content-type": "text/event-stream",
                "cache-control": "no-cache",
                "transfer-encoding": "chunked",
                **script.headers,
            },
        )
        await self._write(record, writer, head)
        events = script.events if script.events is not None else self.fmt.transcript()
        for i, event in enumerate(events):
            if i == script.stall_after:
                record.outcome = "stalled"
                await asyncio.sleep(FOREVER)
            if i == script.close_after:
                await self._write(record, writer, b"0\r\n\r\n")
                self._end(record, "closed")
                return False
            if i == script.reset_after:
                await asyncio.sleep(0.05)  # let the events already written reach the peer
                _reset(writer)
                self._end(record, "reset")
                return False
            if i and script.event_delay:
                await asyncio.sleep(script.event_delay)
            gate = script.hold.get(i)
            if gate is not None:
                await asyncio.get_running_loop().run_in_executor(None, gate.wait, HOLD_LIMIT)
            await self._write(record, writer, b"%x\r\n%b\r\n" % (len(event), event))
            record.sent_times.append(time.monotonic())
        await self._write(record, writer, b"0\r\n\r\n")
        self._end(record, "completed")
        return True

    async def _send_whole(
        self, record: Recorded, script: Script, writer: asyncio.StreamWriter
    ) -> bool:
        headers = {"content-type": "application/json", **script.headers}
        if script.body_chunks is not None:
            headers["transfer-encoding"] = "chunked"
            await self._write(record, writer, _head(script.status, headers))
            for part in script.body_chunks():
                await self._write(record, writer, b"%x\r\n%b\r\n" % (len(part), part))
            await self._write(record, writer, b"0\r\n\r\n")
        else:
            if script.body is not None:
                body = script.body
            elif script.status == 200:
                body = self.fmt.answer()
            else:
                body = self.fmt.error_body(script.status)
            headers["content-length"] = str(len(body))
            await self._write(record, writer, _head(script.status, headers) + body)
        self._end(record, "completed")
        return True

    async def _write(self, record: Recorded, writer: asyncio.StreamWriter, data: bytes) -> None:
        if writer.transport.is_closing():
            raise _PeerGone
        writer.write(data)
        await writer.drain()
        record.bytes_sent += len(data)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _head(status: int, headers: dict[str, str]) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    _, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        return path, headers, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        for _ in range(100_000):
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(data[:-2])
        return path, headers, b"".join(parts)
    return path, headers, b""
