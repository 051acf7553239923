"""Anthropic Messages in, Anthropic Messages out: the passthrough codec for /v1/messages.

Same format in and out (issue 14): the client's body goes up unchanged except `model`, with
the client's `anthropic-version` and `anthropic-beta` headers exactly as sent and the
provider's key in place of the client's; the answer comes down as its bytes, the stream as
it arrives. The stream is still read for what the proxy must know (an in-band `error`
event, a stream cut before `message_stop`, the usage for metrics), but content events pass
unparsed. Bytes are forwarded at event boundaries, so a failure never lands
inside a half-sent event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.errors import upstream_transport_error
from proxy.providers.anthropic.errors import stream_error
from proxy.providers.anthropic.response import openai_usage, usage_record
from proxy.providers.base import (
    CallContext,
    Reply,
    StreamLimits,
    UpstreamRequest,
    Usage,
    encode_request,
    load_upstream_json,
)
from proxy.providers.pipes import DATA_SHAPE_ERRORS, malformed
from proxy.sse import SSEDecoder, SSEEvent, SSEProtocolError

# The headers a Messages client sets that the upstream must see exactly as sent.
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")
_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')
_HEADER_SETS_LIMIT = 64  # distinct (version, beta) header sets kept; clients send a handful


class MessagesPassthrough:
    """Built once per anthropic provider; stateless per request."""

    def __init__(self, name: str, urls: tuple[str, str], headers: Mapping[str, str]) -> None:
        self.name = name
        self._url, self._count_url = urls  # /v1/messages, /v1/messages/count_tokens
        self._base_headers = dict(headers)
        # One mapping per header combination, so the upstream's encoded-target cache hits.
        self._header_sets: dict[tuple[str | None, ...], Mapping[str, str]] = {}

    def build(
        self, body: dict[str, Any], raw: bytes, client_headers: Mapping[str, str], model: str
    ) -> UpstreamRequest:
        headers = self._headers(tuple(client_headers.get(h) for h in FORWARDED_HEADERS))
        return UpstreamRequest(
            self._url, headers, with_model(body, raw, model), bool(body.get("stream"))
        )

    def count_tokens(
        self, body: dict[str, Any], raw: bytes, client_headers: Mapping[str, str], model: str
    ) -> UpstreamRequest:
        headers = self._headers(tuple(client_headers.get(h) for h in FORWARDED_HEADERS))
        return UpstreamRequest(self._count_url, headers, with_model(body, raw, model), False)

    def parse(self, payload: bytes) -> Reply:
        """The upstream's bytes, unchanged; its usage read for metrics."""
        message = load_upstream_json(payload, self.name)
        if not isinstance(message, dict):
            raise upstream_transport_error(self.name, "malformed_response", "not a JSON object")
        usage = message.get("usage")
        try:
            record = usage_record(openai_usage(usage)) if isinstance(usage, dict) else None
        except DATA_SHAPE_ERRORS as exc:
            raise malformed(self.name, exc) from exc
        return Reply(payload, record)

    def stream_pipe(self, ctx: CallContext) -> AnthropicPassthroughPipe:
        return AnthropicPassthroughPipe(self.name, ctx.limits)

    def _headers(self, forwarded: tuple[str | None, ...]) -> Mapping[str, str]:
        found = self._header_sets.get(forwarded)
        if found is not None:
            return found
        headers = dict(self._base_headers)
        for name, value in zip(FORWARDED_HEADERS, forwarded, strict=True):
            if value is not None:
                headers[name] = value
        if len(self._header_sets) >= _HEADER_SETS_LIMIT:
            self._header_sets.clear()
        self._header_sets[forwarded] = headers
        return headers


def with_model(body: dict[str, Any], raw: bytes, model: str) -> bytes:
    """The client's bytes with the top-level `model` value replaced and nothing else
    changed; when `"model"` appears more than once (a tool schema's property, a duplicate
    key) the body is serialized from the parsed dict instead, which says the same."""
    found = _MODEL.findall(raw)
    if len(found) == 1 and raw.count(b'"model"') == 1:
        at = _MODEL.search(raw)
        assert at is not None
        replacement = b'"model":' + orjson.dumps(model)
        return raw[: at.start()] + replacement + raw[at.end() :]
    return encode_request({**body, "model": model})


class AnthropicPassthroughPipe:
    """Anthropic SSE bytes forwarded whole events at a time, checked on the way."""

    def __init__(self, provider: str, limits: StreamLimits) -> None:
        self._checker = _StreamCheck(provider)
        self._decoder = SSEDecoder(limits.max_event)
        self._provider = provider
        self._max_event = limits.max_event
        self._pending: list[bytes] = []
        self._pending_size = 0

    def feed(self, raw: bytes) -> bytes:
        self._pending.append(raw)
        self._pending_size += len(raw)
        if b"\n" not in raw:  # still inside a line: keep the read, join nothing
            self._check_size()
            return b""
        buffer = b"".join(self._pending)
        cut = _end_of_events(buffer)
        complete, rest = buffer[:cut], buffer[cut:]
        self._pending = [rest] if rest else []
        self._pending_size = len(rest)
        self._check_size()
        if not complete:
            return b""
        self._check(complete)
        return complete

    def finish(self) -> bytes:
        rest = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        if rest:
            self._check(rest)
        try:
            for event in self._decoder.flush():
                self._checker.feed(event)
        except DATA_SHAPE_ERRORS as exc:
            raise malformed(self._provider, exc) from exc
        self._checker.finish()  # upstream_truncated without message_stop
        return rest

    def _check_size(self) -> None:
        if self._pending_size > self._max_event:
            detail = f"an event is larger than {self._max_event} bytes"
            raise upstream_transport_error(self._provider, "stream_error", detail)

    def _check(self, block: bytes) -> None:
        try:
            events = self._decoder.feed(block)
        except SSEProtocolError as exc:
            raise upstream_transport_error(self._provider, "stream_error", str(exc)) from exc
        try:
            for event in events:
                self._checker.feed(event)
        except DATA_SHAPE_ERRORS as exc:
            raise malformed(self._provider, exc) from exc
        # An in-band `error` event raises UpstreamError from the checker: the good events
        # before it in the same read are not sent (only text lost); the error event ends it.

    @property
    def usage(self) -> Usage | None:
        return self._checker.usage


# Events named on their `event:` line that the proxy need not read: the content, the bulk
# of a stream, is forwarded without being parsed.
_UNREAD = frozenset({"content_block_start", "content_block_delta", "content_block_stop", "ping"})


class _StreamCheck:
    """What the proxy must know of a passthrough stream: an in-band `error`, the end
    (`message_stop`), and the usage (message_start's, updated by message_delta's)."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._usage: dict[str, Any] | None = None
        self._stopped = False

    def feed(self, event: SSEEvent) -> None:
        if event.event in _UNREAD:
            return
        try:
            data = event.json()
        except SSEProtocolError as exc:
            raise upstream_transport_error(self._provider, "stream_error", str(exc)) from exc
        if not isinstance(data, dict):
            raise upstream_transport_error(self._provider, "stream_error", "event is not an object")
        kind = data.get("type", event.event)
        if kind == "message_start":
            self._merge(data["message"].get("usage"))
        elif kind == "message_delta":
            self._merge(data.get("usage"))
        elif kind == "message_stop":
            self._stopped = True
        elif kind == "error":
            error = data.get("error")
            error = error if isinstance(error, dict) else {}
            raise stream_error(self._provider, error.get("type"), error.get("message"))

    def finish(self) -> None:
        if not self._stopped:
            raise upstream_transport_error(
                self._provider, "upstream_truncated", "the stream ended before message_stop"
            )

    @property
    def usage(self) -> Usage | None:
        return None if self._usage is None else usage_record(openai_usage(self._usage))

    def _merge(self, usage: Any) -> None:
        if isinstance(usage, dict):
            # message_delta counts are cumulative; a null means "unchanged".
            merged = dict(self._usage or {})
            merged.update((k, v) for k, v in usage.items() if v is not None)
            self._usage = merged


def _end_of_events(buffer: bytes) -> int:
    text = buffer
    lf = text.rfind(b"\n\n")
    crlf = text.rfind(b"\r\n\r\n")
    if crlf >= 0 and crlf + 4 > lf + 2:
        return crlf + 4
    return lf + 2 if lf >= 0 else 0
