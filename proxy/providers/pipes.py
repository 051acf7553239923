"""Stream pipes: upstream bytes in, client SSE bytes out, with no I/O of their own.

`TranslatingPipe` decodes provider SSE, runs a StreamTranslator and encodes OpenAI chunks.
`PassthroughPipe` forwards OpenAI-compatible bytes untouched, whole events at a time, after
checking each one, so a truncated or corrupt stream is never mistaken for a finished one.
"""

from __future__ import annotations

import re

import orjson

from proxy.errors import Outcome, UpstreamError, upstream_transport_error
from proxy.providers.base import StreamTranslator, Usage
from proxy.sse import DEFAULT_MAX_LINE, DONE, SSEDecoder, SSEProtocolError, encode_chunks


class TranslatingPipe:
    def __init__(self, translator: StreamTranslator, provider: str) -> None:
        self._translator = translator
        self._provider = provider
        self._decoder = SSEDecoder()

    def feed(self, raw: bytes) -> bytes:
        try:
            events = self._decoder.feed(raw)
        except SSEProtocolError as exc:
            raise upstream_transport_error(self._provider, "stream_error", str(exc)) from exc
        chunks = []
        for event in events:
            chunks.extend(self._translator.feed(event))
        return encode_chunks(chunks) if chunks else b""

    def finish(self) -> bytes:
        try:
            events = self._decoder.flush()
        except SSEProtocolError as exc:
            raise upstream_transport_error(self._provider, "stream_error", str(exc)) from exc
        chunks = []
        for event in events:
            chunks.extend(self._translator.feed(event))
        chunks.extend(self._translator.finish())
        return encode_chunks(chunks) + DONE

    @property
    def usage(self) -> Usage | None:
        return self._translator.usage


class PassthroughPipe:
    """OpenAI-compatible stream bytes, forwarded untouched but only as whole events.

    Each complete event is checked (its data parses as JSON, its lines are within the cap)
    before its bytes go out, so a cut or corrupt upstream stream ends in one clean error
    event rather than a half line glued to it. Nothing is sent until the first data event
    has been seen to be good: an error event there still falls back.
    """

    def __init__(self, provider: str, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._provider = provider
        self._max_line = max_line
        self._pending = b""  # bytes after the last complete event
        self._held = b""  # complete events not yet sent (before the first data event)
        self._committed = False
        self._done = False
        self._usage: Usage | None = None

    def feed(self, raw: bytes) -> bytes:
        buffer = self._pending + raw if self._pending else raw
        cut = _end_of_last_event(buffer)
        complete, self._pending = buffer[:cut], buffer[cut:]
        if len(self._pending) > self._max_line and _longest_line(self._pending) > self._max_line:
            raise self._failure(
                "stream_error", f"an event line is longer than {self._max_line} bytes"
            )
        if not complete:
            return b""
        seen_data = self._check(complete)
        if self._committed:
            return complete
        self._held += complete
        if not seen_data:
            return b""
        self._committed = True
        out, self._held = self._held, b""
        return out

    def finish(self) -> bytes:
        if self._pending.strip():
            # A last event without its blank line is complete only if it is the [DONE] marker.
            tail = _data_of_events(self._pending, self._max_line, self._provider)
            if tail != [b"[DONE]"]:
                raise self._failure("upstream_truncated", "the stream ended inside an event")
            self._done = True
        if not self._done:
            raise self._failure("upstream_truncated", "the stream ended without [DONE]")
        out = self._held + self._pending
        self._held = self._pending = b""
        return out

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def _check(self, block: bytes) -> bool:
        """Validate the events of a block; True if it carried a data event."""
        seen = False
        for data in _data_of_events(block, self._max_line, self._provider):
            seen = True
            if data == b"[DONE]":
                self._done = True
                continue
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise self._failure("stream_error", "an event is not JSON") from exc
            if not isinstance(chunk, dict):
                raise self._failure("stream_error", "an event is not a JSON object")
            if "error" in chunk:
                raise _in_band_error(chunk["error"], self._provider)
            if chunk.get("usage"):
                self._usage = usage_from_openai(chunk["usage"])
        return seen

    def _failure(self, outcome: Outcome, detail: str) -> UpstreamError:
        return upstream_transport_error(self._provider, outcome, detail)


def _end_of_last_event(buffer: bytes) -> int:
    """Index just past the last blank line (the end of the last complete event)."""
    if b"\r" not in buffer:
        at = buffer.rfind(b"\n\n")
        return at + 2 if at >= 0 else 0
    end = 0
    previous_blank = True
    for match in _LINE.finditer(buffer):
        line_is_blank = match.start() == match.end() - len(match.group(1))
        if line_is_blank and not previous_blank:
            end = match.end()
        previous_blank = line_is_blank
    return end


_LINE = re.compile(rb"[^\r\n]*(\r\n|\r|\n)")


def _data_of_events(block: bytes, max_line: int, provider: str) -> list[bytes]:
    text = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in block else block
    payloads = []
    for event in text.split(b"\n\n"):
        data = [ln for ln in event.split(b"\n") if ln.startswith(b"data:")]
        if any(len(ln) > max_line for ln in data):
            raise upstream_transport_error(
                provider, "stream_error", f"an event line is longer than {max_line} bytes"
            )
        if data:
            payloads.append(
                b"\n".join(ln[6:] if ln[5:6] == b" " else ln[5:] for ln in data).strip()
            )
    return payloads


def _longest_line(buffer: bytes) -> int:
    return max(len(line) for line in buffer.replace(b"\r", b"\n").split(b"\n"))


def _in_band_error(error: object, provider: str) -> UpstreamError:
    # The event itself is never forwarded: the client gets this error, its message quoted
    # whole so that upstream_transport_error redacts it before cutting it (errors.py).
    message = error.get("message") if isinstance(error, dict) else error
    return upstream_transport_error(
        provider, "stream_error", f"the stream carried an error: {message}"
    )


def usage_from_openai(usage: object) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt=int(usage.get("prompt_tokens") or 0),
        completion=int(usage.get("completion_tokens") or 0),
        cached=int(prompt_details.get("cached_tokens") or 0),
        reasoning=int(completion_details.get("reasoning_tokens") or 0),
    )
