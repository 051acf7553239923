"""OpenAI Responses in, OpenAI Responses out: the passthrough codec for /v1/responses.

Same format in and out (issue 14): the client's body goes up to `{base_url}/responses`
unchanged except `model` (so `reasoning.encrypted_content`, `store`, `prompt_cache_key`,
`previous_response_id` and every field the proxy does not know reach OpenAI as sent); the
answer comes down as its bytes, the stream as it arrives, at event boundaries. The stream is
still read for what the proxy must know: an in-band `error` or `response.failed` event (an
upstream failure: the client gets the proxy's own `response.failed` after the commit, and
before it the next deployment is tried), a stream cut before its terminal event
(`response.completed` / `response.incomplete`), and the usage for metrics.

Commit point: `response.created` and `response.in_progress` come at once, before any work;
they are held (bounded by server.max_precommit_bytes) so that a failure before the first
output event still falls back, as chat's commit point is the first content event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.anthropic.passthrough import with_model
from proxy.providers.base import (
    CallContext,
    Reply,
    StreamLimits,
    UpstreamRequest,
    Usage,
    load_upstream_json,
)
from proxy.providers.pipes import DATA_SHAPE_ERRORS, failed_after, malformed
from proxy.sse import SSEDecoder, SSEEvent, SSEProtocolError

# Events that open every Responses stream before any output: held until the commit.
_PREAMBLE = frozenset({"response.created", "response.in_progress"})
_TERMINAL = frozenset({"response.completed", "response.incomplete"})
_FAILED = frozenset({"error", "response.failed"})


class ResponsesPassthrough:
    """Built once per openai provider; stateless per request."""

    def __init__(self, name: str, url: str, headers: Mapping[str, str]) -> None:
        self.name = name
        self._url = url
        self._headers = headers

    def build(self, body: dict[str, Any], raw: bytes, model: str) -> UpstreamRequest:
        return UpstreamRequest(
            self._url, self._headers, with_model(body, raw, model), body.get("stream") is True
        )

    def parse(self, payload: bytes) -> Reply:
        """The upstream's bytes, unchanged; its usage read for metrics."""
        response = load_upstream_json(payload, self.name)
        if not isinstance(response, dict) or response.get("object") != "response":
            raise upstream_transport_error(self.name, "malformed_response", "not a Response")
        try:
            return Reply(payload, usage_of(response.get("usage")))
        except DATA_SHAPE_ERRORS as exc:
            raise malformed(self.name, exc) from exc

    def stream_pipe(self, ctx: CallContext) -> ResponsesPassthroughPipe:
        return ResponsesPassthroughPipe(self.name, ctx.limits)


def usage_of(usage: Any) -> Usage | None:
    """Responses `usage` (input/output tokens) -> Usage; TypeError on another shape."""
    if usage is None:
        return None
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    return Usage(
        prompt=int(usage.get("input_tokens") or 0),
        completion=int(usage.get("output_tokens") or 0),
        cached=int(input_details.get("cached_tokens") or 0),
        reasoning=int(output_details.get("reasoning_tokens") or 0),
    )


class ResponsesPassthroughPipe:
    """Responses SSE bytes forwarded whole events at a time, checked on the way."""

    def __init__(self, provider: str, limits: StreamLimits) -> None:
        self._provider = provider
        self._decoder = SSEDecoder(limits.max_event)
        self._max_event = limits.max_event
        self._max_held = limits.max_precommit
        self._pending: list[bytes] = []  # reads after the last complete event
        self._pending_size = 0
        self._held: list[bytes] = []  # the preamble, until the first output event
        self._held_size = 0
        self._committed = False
        self._done = False
        self._usage: Usage | None = None
        self._response: dict[str, Any] = {}  # as response.created described it
        self._sequence = -1  # the last sequence_number seen

    def feed(self, raw: bytes) -> bytes:
        self._pending.append(raw)
        self._pending_size += len(raw)
        if b"\n" not in raw:  # still inside a line: keep the read, join nothing
            if self._pending_size > self._max_event:
                raise self._failure(f"an event is larger than {self._max_event} bytes")
            return b""
        buffer = b"".join(self._pending)
        cut = _end_of_events(buffer)
        complete, rest = buffer[:cut], buffer[cut:]
        self._pending = [rest] if rest else []
        self._pending_size = len(rest)
        if not complete:
            return b""
        preamble_only = self._check(complete)
        if self._committed:
            return complete
        self._held.append(complete)
        self._held_size += len(complete)
        if preamble_only:
            if self._held_size > self._max_held:
                raise self._failure(f"more than {self._max_held} bytes before the first output")
            return b""
        self._committed = True
        out = b"".join(self._held)
        self._held, self._held_size = [], 0
        return out

    def finish(self) -> bytes:
        rest = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        if rest.strip():
            rest = rest.rstrip(b"\r\n") + b"\n\n"  # a last event without its blank line
            self._check(rest)
        if not self._done:
            raise upstream_transport_error(
                self._provider, "upstream_truncated", "the stream ended before response.completed"
            )
        out = b"".join((*self._held, rest))
        self._held, self._held_size = [], 0
        return out

    @property
    def announced(self) -> dict[str, Any]:
        """The Response as the upstream last described it (for a `response.failed`)."""
        return self._response

    @property
    def next_sequence(self) -> int:
        return self._sequence + 1

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def _check(self, block: bytes) -> bool:
        """Check the block's events; True if all of them are preamble events."""
        try:
            events = self._decoder.feed(block)
        except SSEProtocolError as exc:
            raise self._failure(str(exc)) from exc
        preamble = True
        for index, event in enumerate(events):
            try:
                kind = self._check_event(event)
            except UpstreamError as error:
                if not self._committed:
                    raise
                raise failed_after(error, encode_before(events, index)) from None
            except DATA_SHAPE_ERRORS as exc:
                raise malformed(self._provider, exc) from exc
            preamble = preamble and kind in _PREAMBLE
        return preamble

    def _check_event(self, event: SSEEvent) -> str:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError as exc:
            raise self._failure("an event is not JSON") from exc
        if not isinstance(data, dict):
            raise self._failure("an event is not a JSON object")
        kind = str(data.get("type") or event.event or "")
        sequence = data.get("sequence_number")
        if isinstance(sequence, int):
            self._sequence = sequence
        response = data.get("response")
        if isinstance(response, dict):
            self._response = response
        if kind in _FAILED:
            error = data.get("error") or self._response.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else error
            raise self._failure(f"the stream carried an error: {message}")
        if kind in _TERMINAL:
            self._done = True
            self._usage = usage_of(self._response.get("usage"))
        return kind

    def _failure(self, detail: str) -> UpstreamError:
        return upstream_transport_error(self._provider, "stream_error", detail)


def encode_before(events: list[SSEEvent], index: int) -> bytes:
    """The events before the failing one, re-framed (their data is forwarded as is)."""
    return b"".join(
        (b"event: " + e.event.encode() + b"\n" if e.event else b"")
        + b"data: "
        + e.data.encode()
        + b"\n\n"
        for e in events[:index]
    )


def _end_of_events(buffer: bytes) -> int:
    lf = buffer.rfind(b"\n\n")
    crlf = buffer.rfind(b"\r\n\r\n")
    if crlf >= 0 and crlf + 4 > lf + 2:
        return crlf + 4
    return lf + 2 if lf >= 0 else 0
