"""Stream pipes: upstream bytes in, client SSE bytes out, with no I/O of their own.

`TranslatingPipe` decodes provider SSE, runs a StreamTranslator and encodes OpenAI chunks.
`PassthroughPipe` forwards OpenAI-compatible bytes untouched: it only holds back the first
event (to catch an in-band error before the stream commits) and watches the tail for
`data: [DONE]` so a truncated stream is never mistaken for a finished one.
"""

from __future__ import annotations

import orjson

from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.base import StreamTranslator, Usage
from proxy.sse import DONE, SSEDecoder, SSEProtocolError, encode_chunks

_FIRST_EVENT_LIMIT = 64 * 1024
_TAIL = 8192


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
    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._head = b""  # bytes held back until the first data event is known to be good
        self._committed = False
        self._tail = b""
        self._in_band_error = False

    def feed(self, raw: bytes) -> bytes:
        if not self._committed:
            return self._feed_head(raw)
        self._remember_tail(raw)
        return raw

    def _feed_head(self, raw: bytes) -> bytes:
        head = self._head + raw
        first = _first_data_event(head)
        if first is None and len(head) < _FIRST_EVENT_LIMIT:
            self._head = head
            return b""
        if first is not None:
            _raise_if_error(first, self._provider)
        self._committed = True
        self._head = b""
        self._remember_tail(head)
        return head

    def _remember_tail(self, raw: bytes) -> None:
        if b'{"error"' in raw:
            self._in_band_error = True
        self._tail = (self._tail + raw)[-_TAIL:]

    def finish(self) -> bytes:
        if not self._committed:
            # The upstream ended before any data event: nothing useful was said.
            first = _first_data_event(self._head + b"\n\n")
            if first is not None:
                _raise_if_error(first, self._provider)
            self._tail = self._head
        if self._in_band_error:
            raise upstream_transport_error(
                self._provider, "stream_error", "the stream carried an error event"
            )
        if not self._tail.replace(b"\r\n", b"\n").rstrip().endswith(b"data: [DONE]"):
            raise upstream_transport_error(
                self._provider, "upstream_truncated", "the stream ended without [DONE]"
            )
        return b"" if self._committed else self._head

    @property
    def usage(self) -> Usage | None:
        return usage_from_tail(self._tail)


def _first_data_event(buffer: bytes) -> bytes | None:
    """The data of the first complete event carrying data; comments and pings are skipped."""
    text = buffer.replace(b"\r\n", b"\n")
    start = 0
    while True:
        end = text.find(b"\n\n", start)
        if end < 0:
            return None
        lines = [ln for ln in text[start:end].split(b"\n") if ln.startswith(b"data:")]
        if lines:
            return b"\n".join(ln[5:].lstrip(b" ") for ln in lines)
        start = end + 2


def _raise_if_error(data: bytes, provider: str) -> None:
    if not data.lstrip().startswith(b"{"):
        return
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise upstream_transport_error(provider, "stream_error", "first event is not JSON") from exc
    if isinstance(payload, dict) and "error" in payload:
        error = payload["error"]
        message = error.get("message") if isinstance(error, dict) else None
        failure: UpstreamError = upstream_transport_error(
            provider, "stream_error", f"error event before any content: {str(message)[:200]}"
        )
        raise failure


def usage_from_tail(tail: bytes) -> Usage | None:
    """Usage of an OpenAI-style stream: the last data event that has a `usage` object."""
    at = tail.rfind(b'"usage"')
    if at < 0:
        return None
    start = tail.rfind(b"data:", 0, at)
    end = tail.find(b"\n", at)
    if start < 0 or end < 0:
        return None
    try:
        chunk = orjson.loads(tail[start + 5 : end])
    except orjson.JSONDecodeError:
        return None
    return usage_from_openai(chunk.get("usage") if isinstance(chunk, dict) else None)


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
