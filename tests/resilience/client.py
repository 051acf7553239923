"""A raw-socket HTTP/1.1 client for streams: exact arrival times and an exact disconnect.

httpx buffers and pools in ways that hide what the tests look for (when an event arrived,
when the connection was really closed), so streams are read straight off a socket: status
line, headers, chunked (or close-delimited) body. SSE events are decoded by the proxy's own
SSEDecoder (proxy/sse.py, the WHATWG rules), not by a copy of it.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from proxy.sse import SSEDecoder


class StreamEnded(Exception):
    pass


@dataclass
class SSEResult:
    status: int
    headers: dict[str, str]
    events: list[str] = field(default_factory=list)  # the data of each event
    times: list[float] = field(default_factory=list)  # monotonic arrival time of each event
    body: bytes = b""  # the raw body bytes (for non-SSE answers, the whole body)
    ended: str = "open"  # "eof" (body ended), "timeout", "reset", "deadline" (read_all within)
    ended_at: float | None = None

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1] == "[DONE]"

    @property
    def done_anywhere(self) -> bool:
        return "[DONE]" in self.events

    def parsed(self) -> list[Any]:
        out = []
        for data in self.events:
            if data == "[DONE]":
                continue
            try:
                out.append(json.loads(data))
            except ValueError:
                out.append(data)
        return out

    @property
    def error_events(self) -> list[dict[str, Any]]:
        return [e for e in self.parsed() if isinstance(e, dict) and "error" in e]

    @property
    def content(self) -> str:
        text = []
        for chunk in self.parsed():
            if isinstance(chunk, dict):
                for choice in chunk.get("choices") or []:
                    text.append((choice.get("delta") or {}).get("content") or "")
        return "".join(text)

    @property
    def content_times(self) -> list[float]:
        """Arrival times of the events that carried content."""
        times = []
        for data, at in zip(self.events, self.times, strict=True):
            try:
                chunk = json.loads(data)
            except ValueError:
                continue
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            if any((c.get("delta") or {}).get("content") for c in choices or []):
                times.append(at)
        return times

    def json(self) -> Any:
        return json.loads(self.body)

    def well_terminated(self) -> bool:
        """Exactly one of: [DONE] last and no error event, or one error event last, no [DONE]."""
        errors = self.error_events
        if self.done:
            return not errors
        return len(errors) == 1 and not self.done_anywhere and "error" in self.parsed()[-1]


class RawStream:
    """One POST on its own connection; read events one by one, close whenever."""

    def __init__(
        self,
        base_url: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self._buffer = b""
        self._chunk_left = 0
        self._chunked = False
        self._length: int | None = None
        self._body_done = False
        self._sse = SSEDecoder()  # the proxy's own decoder: no second copy of the rules
        self._pending: list[str] = []
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {parts.hostname}:{parts.port}",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self._timeout = timeout
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        self.sent_at = time.monotonic()
        self.result = self._read_head()

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise StreamEnded
        return data

    def _read_head(self) -> SSEResult:
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if "content-length" in headers:
            self._length = int(headers["content-length"])
        return SSEResult(status, headers)

    def _body_bytes(self) -> bytes:
        """The next body bytes; StreamEnded once the body is complete."""
        if self._body_done:
            raise StreamEnded
        if self._chunked:
            return self._chunk_bytes()
        if self._length is not None:
            if self._length <= 0:
                self._body_done = True
                raise StreamEnded
            data = self._buffer or self._recv()
            self._buffer = b""
            data = data[: self._length]
            self._length -= len(data)
            return data
        data = self._buffer or self._recv()
        self._buffer = b""
        return data

    def _chunk_bytes(self) -> bytes:
        # _chunk_left: > 0 bytes left in the chunk, -1 its CRLF is pending, 0 a size line next
        for _ in range(1_000_000):
            if self._chunk_left > 0:
                if not self._buffer:
                    self._buffer = self._recv()
                data = self._buffer[: self._chunk_left]
                self._buffer = self._buffer[len(data) :]
                self._chunk_left -= len(data)
                if self._chunk_left == 0:
                    self._chunk_left = -1
                return data
            if self._chunk_left == -1:
                while len(self._buffer) < 2:
                    self._buffer += self._recv()
                self._buffer = self._buffer[2:]
                self._chunk_left = 0
            while b"\r\n" not in self._buffer:
                self._buffer += self._recv()
            line, self._buffer = self._buffer.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                self._body_done = True
                raise StreamEnded
            self._chunk_left = size
        raise StreamEnded

    def next_event(self) -> str | None:
        """The next event's data, or None when the body ended (see result.ended)."""
        while not self._pending:
            try:
                data = self._body_bytes()
            except StreamEnded:
                self._finish("eof")
                self._pending.extend(e.data for e in self._sse.flush())
                if not self._pending:
                    return None
                break
            except TimeoutError:
                self._finish("timeout")
                return None
            except ConnectionResetError:
                self._finish("reset")
                return None
            self.result.body += data
            self._pending.extend(e.data for e in self._sse.feed(data))
        event = self._pending.pop(0)
        self.result.events.append(event)
        self.result.times.append(time.monotonic())
        return event

    def _finish(self, how: str) -> None:
        if self.result.ended == "open":
            self.result.ended = how
            self.result.ended_at = time.monotonic()

    def read_all(self, max_events: int = 100_000, within: float | None = None) -> SSEResult:
        """Every event until the body ends; with `within`, stop `within` seconds after the
        request was sent, the stream then `ended` "deadline" (a bounded wait, not a timing)."""
        deadline = None if within is None else self.sent_at + within
        for _ in range(max_events):
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._finish("deadline")
                    break
                self.sock.settimeout(min(left, self._timeout))
            if self.next_event() is None:
                if deadline is not None and time.monotonic() >= deadline:
                    self.result.ended = "deadline"  # the socket timed out at our deadline
                break
        return self.result

    def read_body(self) -> SSEResult:
        """For a non-SSE answer: the whole body."""
        for _ in range(1_000_000):
            try:
                self.result.body += self._body_bytes()
            except StreamEnded:
                self._finish("eof")
                break
        return self.result

    def close(self) -> float:
        """Close the connection (FIN); returns the monotonic time of the close."""
        self.sock.close()
        return time.monotonic()
