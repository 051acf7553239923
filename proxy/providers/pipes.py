"""Stream pipes: upstream bytes in, client SSE bytes out, with no I/O of their own.

`TranslatingPipe` decodes provider SSE, runs a StreamTranslator and encodes OpenAI chunks.
`PassthroughPipe` forwards OpenAI-compatible bytes whole events at a time, after checking
each one, so a truncated or corrupt stream is never mistaken for a finished one.

Both are bounded (`StreamLimits`): one event may not exceed `max_event` bytes (the same
bound as a whole non-stream answer, server.max_response_bytes), and what is held before the
first data event may not exceed `max_precommit` bytes; bytes are joined once per event, never
once per read, so a hostile upstream costs linear time. When a read carries good events and
then a failure, the failure (`FailedAfter`) carries the good events' bytes so that the client
still gets them before the error event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import orjson

from proxy.errors import Outcome, UpstreamError, upstream_transport_error
from proxy.providers.base import DEFAULT_LIMITS, StreamLimits, StreamTranslator, Usage
from proxy.sse import DONE, SSEDecoder, SSEEvent, SSEProtocolError, encode_chunks

# What a translator raises on upstream JSON of an unexpected shape: the provider's fault
# (malformed_response), not a client disconnect and not a 500 of ours.
DATA_SHAPE_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


@dataclass
class FailedAfter(UpstreamError):
    """A failure preceded in the same read by complete events the client must still get."""

    before: bytes = b""


def failed_after(error: UpstreamError, before: bytes) -> UpstreamError:
    if not before:
        return error
    values = {f.name: getattr(error, f.name) for f in fields(error)}
    return FailedAfter(**values, before=before)


def malformed(provider: str, exc: BaseException) -> UpstreamError:
    detail = f"an event did not have the expected shape ({type(exc).__name__})"
    return upstream_transport_error(provider, "malformed_response", detail)


class TranslatingPipe:
    def __init__(
        self, translator: StreamTranslator, provider: str, limits: StreamLimits = DEFAULT_LIMITS
    ) -> None:
        self._translator = translator
        self._provider = provider
        self._decoder = SSEDecoder(limits.max_event)
        self._sent = False  # something went out: a later failure keeps the chunks before it

    def feed(self, raw: bytes) -> bytes:
        try:
            events = self._decoder.feed(raw)
        except SSEProtocolError as exc:
            raise upstream_transport_error(self._provider, "stream_error", str(exc)) from exc
        if not events:
            return b""
        out = self._translate(events, [])
        self._sent = self._sent or bool(out)
        return out

    def finish(self) -> bytes:
        try:
            events = self._decoder.flush()
        except SSEProtocolError as exc:
            raise upstream_transport_error(self._provider, "stream_error", str(exc)) from exc
        chunks: list[dict[str, object]] = []
        self._translate(events, chunks)
        try:
            chunks.extend(self._translator.finish())
        except UpstreamError as error:
            raise failed_after(error, encode_chunks(chunks) if self._sent else b"") from None
        except DATA_SHAPE_ERRORS as exc:
            raise malformed(self._provider, exc) from exc
        return encode_chunks(chunks) + DONE

    def _translate(self, events: list[SSEEvent], chunks: list[dict[str, object]]) -> bytes:
        try:
            for event in events:
                chunks.extend(self._translator.feed(event))
        except UpstreamError as error:
            raise failed_after(error, encode_chunks(chunks) if self._sent else b"") from None
        except DATA_SHAPE_ERRORS as exc:
            bad = malformed(self._provider, exc)
            raise failed_after(bad, encode_chunks(chunks) if self._sent else b"") from exc
        return encode_chunks(chunks) if chunks else b""

    @property
    def usage(self) -> Usage | None:
        return self._translator.usage


class PassthroughPipe:
    """OpenAI-compatible stream bytes, forwarded as whole events after checking each.

    Each complete event is checked (its data parses as JSON, it is within the size bound)
    before its bytes go out, so a cut or corrupt upstream stream ends in one clean error
    event rather than a half line glued to it. Nothing is sent until the first data event
    has been seen to be good: an error event there still falls back.
    """

    def __init__(
        self, provider: str, limits: StreamLimits = DEFAULT_LIMITS, strip_usage: bool = False
    ) -> None:
        self._provider = provider
        self._strip = strip_usage  # the proxy asked for usage the client did not ask for
        self._max_event = limits.max_event
        self._max_held = limits.max_precommit
        self._parts: list[bytes] = []  # reads after the last complete event, not yet joined
        self._partial = 0  # their size
        self._held: list[bytes] = []  # complete events not yet sent (before the first data)
        self._held_size = 0
        self._committed = False
        self._done = False
        self._usage: Usage | None = None

    def feed(self, raw: bytes) -> bytes:
        if not raw:
            return b""
        if not self._may_end_event(raw):
            self._partial += len(raw)
            if self._partial > self._max_event:
                raise self._too_large()
            self._parts.append(raw)
            return b""
        parts = self._parts
        if parts:
            parts.append(raw)
            buffer = b"".join(parts)
            parts.clear()
        else:
            buffer = raw  # the common case: no copy, no list
        cut = _end_of_last_event(buffer)
        complete, pending = buffer[:cut], buffer[cut:]
        if pending:
            parts.append(pending)
        self._partial = len(pending)
        if self._partial > self._max_event:
            raise self._too_large()
        if not complete:
            return b""
        seen_data = self._check(complete)
        if self._strip:
            complete = without_usage(complete)
        if self._committed:
            return complete
        return self._hold(complete, seen_data)

    def finish(self) -> bytes:
        pending = b"".join(self._parts)
        self._parts, self._partial = [], 0
        if pending.strip():
            # A last event without its blank line is complete only if it is the [DONE] marker.
            tail = _data_of_events(pending, self._max_event, self._provider)
            if [data for _, data in tail] != [b"[DONE]"]:
                raise self._failure("upstream_truncated", "the stream ended inside an event")
            self._done = True
        if not self._done:
            raise self._failure("upstream_truncated", "the stream ended without [DONE]")
        out = b"".join((*self._held, pending))
        self._held, self._held_size = [], 0
        return out

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def _may_end_event(self, raw: bytes) -> bool:
        """Could this read complete an event (a blank line in it, or straddling the last)?
        A false yes only costs a scan; a read without any line break never ends one."""
        if b"\r" not in raw:
            if b"\n\n" in raw:
                return True
            if not raw.startswith(b"\n") or not self._parts:
                return False
        window = (self._parts[-1][-3:] if self._parts else b"") + raw
        return b"\n\n" in window.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _hold(self, complete: bytes, seen_data: bool) -> bytes:
        self._held.append(complete)
        self._held_size += len(complete)
        if not seen_data:
            if self._held_size > self._max_held:
                raise self._failure(
                    "stream_error", f"more than {self._max_held} bytes before the first data event"
                )
            return b""
        self._committed = True
        out = b"".join(self._held) if len(self._held) > 1 else complete
        self._held, self._held_size = [], 0
        return out

    def _check(self, block: bytes) -> bool:
        """Validate the events of a block; True if it carried a data event. After the
        commit, a failure carries the bytes of the good events before it."""
        seen = False
        events = _data_of_events(block, self._max_event, self._provider)
        for at, data in events:
            seen = True
            try:
                self._check_data(data)
            except UpstreamError as error:
                if not self._committed:
                    raise
                raise failed_after(error, _events_before(block, at)) from None
        return seen

    def _check_data(self, data: bytes) -> None:
        if data == b"[DONE]":
            self._done = True
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self._failure("stream_error", "an event is not JSON") from exc
        if not isinstance(chunk, dict):
            raise self._failure("stream_error", "an event is not a JSON object")
        if "error" in chunk:
            raise _in_band_error(chunk["error"], self._provider)
        usage = chunk.get("usage")
        if usage:
            try:
                self._usage = usage_from_openai(usage)
            except DATA_SHAPE_ERRORS as exc:
                raise malformed(self._provider, exc) from exc

    def _too_large(self) -> UpstreamError:
        return self._failure("stream_error", f"an event is larger than {self._max_event} bytes")

    def _failure(self, outcome: Outcome, detail: str) -> UpstreamError:
        return upstream_transport_error(self._provider, outcome, detail)


# How OpenAI-compatible servers write the `"usage": null` every chunk carries once
# include_usage is set (OpenAI: compact; vLLM and others: Python's json spacing).
_NULL_USAGE = (b',"usage":null', b', "usage": null')


def without_usage(block: bytes) -> bytes:
    """Complete, checked events as the client would have had them without include_usage:
    `"usage": null` cut out of each chunk, the usage-only chunk (`choices: []`) dropped."""
    if b'"usage"' not in block:
        return block
    text = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in block else block
    kept: list[bytes] = []
    for event in text.split(b"\n\n"):
        if b'"usage"' in event:
            stripped = _event_without_usage(event)
            if stripped is None:
                continue
            event = stripped
        kept.append(event)
    return b"\n\n".join(kept)


def _event_without_usage(event: bytes) -> bytes | None:
    for pattern in _NULL_USAGE:
        if pattern in event:
            return event.replace(pattern, b"")
    lines = event.split(b"\n")
    data = [i for i, line in enumerate(lines) if line.startswith(b"data:")]
    if len(data) != 1:
        return event  # not a one-line JSON chunk: nothing we added
    chunk = orjson.loads(lines[data[0]][5:])  # checked as JSON by _check_data already
    if not isinstance(chunk, dict) or "usage" not in chunk:
        return event
    if not chunk.get("choices"):
        return None  # the usage chunk the client did not ask for
    del chunk["usage"]  # usage riding on a content chunk: re-encode that one chunk
    lines[data[0]] = b"data: " + orjson.dumps(chunk)
    return b"\n".join(lines)


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


def _events_before(block: bytes, index: int) -> bytes:
    """The bytes of the block's first `index` events (line ends normalised if not LF)."""
    text = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in block else block
    return b"".join(event + b"\n\n" for event in text.split(b"\n\n")[:index])


def _data_of_events(block: bytes, max_event: int, provider: str) -> list[tuple[int, bytes]]:
    """(index of the event in the block's blank-line split, its data) for each data event."""
    text = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in block else block
    payloads = []
    for index, event in enumerate(text.split(b"\n\n")):
        if len(event) > max_event:
            raise upstream_transport_error(
                provider, "stream_error", f"an event is larger than {max_event} bytes"
            )
        data = [ln for ln in event.split(b"\n") if ln.startswith(b"data:")]
        if data:
            payloads.append(
                (index, b"\n".join(ln[6:] if ln[5:6] == b" " else ln[5:] for ln in data).strip())
            )
    return payloads


def _in_band_error(error: object, provider: str) -> UpstreamError:
    # The event itself is never forwarded: the client gets this error, its message quoted
    # whole so that upstream_transport_error redacts it before cutting it (errors.py).
    message = error.get("message") if isinstance(error, dict) else error
    return upstream_transport_error(
        provider, "stream_error", f"the stream carried an error: {message}"
    )


def usage_from_openai(usage: object) -> Usage | None:
    """OpenAI `usage` -> Usage; TypeError or ValueError if its shape is not OpenAI's (the
    caller turns that into malformed_response: it is the upstream's fault)."""
    if usage is None:
        return None
    if not isinstance(usage, dict):
        raise TypeError("usage is not an object")
    prompt_details = _details(usage.get("prompt_tokens_details"))
    completion_details = _details(usage.get("completion_tokens_details"))
    return Usage(
        prompt=_count(usage.get("prompt_tokens")),
        completion=_count(usage.get("completion_tokens")),
        cached=_count(prompt_details.get("cached_tokens")),
        reasoning=_count(completion_details.get("reasoning_tokens")),
    )


def _details(value: object) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("usage details are not an object")
    return value


def _count(value: object) -> int:
    if type(value) is int and value >= 0:  # what every upstream sends: one test
        return value
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("a token count is not a non-negative integer")
    return value
