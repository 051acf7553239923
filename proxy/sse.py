"""Server-sent events: an incremental decoder (feed/flush) and the OpenAI-style encoder.

The decoder follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; lines
starting with ':' are comments; an event is dispatched on a blank line; multiple `data`
lines join with '\\n'. An event (any of its lines, or its data joined) longer than
`max_event` bytes is a protocol error, so a hostile or broken upstream cannot grow our
buffer without bound; a long line arriving in many reads is joined once, not per read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from proxy.redaction import redact

DONE = b"data: [DONE]\n\n"
# The default of server.max_response_bytes: one bound for a whole answer and for one event.
DEFAULT_MAX_EVENT = 32 * 1024 * 1024


class SSEProtocolError(ValueError):
    """The upstream byte stream is not a valid event stream."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None

    def json(self) -> Any:
        """The data parsed as JSON; SSEProtocolError if it is not JSON."""
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError as exc:
            # Redacted before the cut: a secret straddling it must not leave a prefix.
            excerpt = redact(self.data)[:80]
            raise SSEProtocolError(f"event data is not JSON: {excerpt!r}") from exc


class SSEDecoder:
    def __init__(self, max_line: int = DEFAULT_MAX_EVENT) -> None:
        self._max = max_line  # bounds a line and an event's joined data alike
        self._buffer = b""
        self._parts: list[bytes] = []  # reads of an unfinished line, joined when it ends
        self._partial = 0  # bytes in _buffer + _parts
        self._skip_lf = False  # the previous chunk ended in CR, so a leading LF belongs to it
        self._data: list[str] = []
        self._size = 0  # bytes of the current event's data
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._skip_lf = False
        if b"\n" not in chunk and b"\r" not in chunk:
            # Still inside one line: keep the read, copy nothing (linear in the line's size).
            self._partial += len(chunk)
            if self._partial > self._max:
                raise SSEProtocolError(f"line longer than {self._max} bytes")
            self._parts.append(chunk)
            return []
        if self._parts:
            self._parts.append(chunk)
            chunk, self._parts = b"".join(self._parts), []
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            self._skip_lf = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, rest = buffer.split(b"\n")
        if len(rest) > self._max:
            raise SSEProtocolError(f"line longer than {self._max} bytes")
        self._buffer = rest
        self._partial = len(rest)
        events: list[SSEEvent] = []
        for line in lines:
            self._take_line(line, events)
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line is still dispatched."""
        events: list[SSEEvent] = []
        rest = self._buffer + b"".join(self._parts)
        self._buffer, self._parts, self._partial = b"", [], 0
        if rest:
            self._take_line(rest, events)
        self._take_line(b"", events)
        return events

    def _take_line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent("\n".join(self._data), self._event))
            self._data = []
            self._size = 0
            self._event = None
            return
        if len(line) > self._max:
            raise SSEProtocolError(f"line longer than {self._max} bytes")
        if line.startswith(b":"):
            return
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        try:
            text = value.decode()
        except UnicodeDecodeError as exc:
            raise SSEProtocolError("event line is not UTF-8") from exc
        if name == b"data":
            self._size += len(value) + 1
            if self._size > self._max:
                raise SSEProtocolError(f"event longer than {self._max} bytes")
            self._data.append(text)
        elif name == b"event":
            self._event = text
        # `id` and `retry` mean nothing to a one-shot proxy stream; other fields are ignored
        # as the spec says.


def encode_chunks(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)


def encode_error_event(body: bytes) -> bytes:
    """The terminal in-band error: an OpenAI error envelope as one data event, no [DONE]."""
    return b"data: " + body + b"\n\n"


def encode_named_events(events: list[dict[str, Any]]) -> bytes:
    """Events that name their type (Responses, Anthropic Messages): `event: <type>` + data."""
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )
