"""A route's Chat Completions stream re-encoded as the Responses event stream.

`ResponsesStreamPipe` wraps the route's own chat pipe (anthropic, gemini: translating), so
the provider adapters are reused as they are: their client-side chat chunks are decoded once
more and fed to ResponsesStreamTranslator (stream.py), whose events go out as named SSE
events (sse.encode_named_events). A failure after good chunks (FailedAfter) keeps those
chunks, translated; `fail` is the in-band end after the commit, `response.failed`, numbered
after the events already sent.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from proxy.errors import ProxyError, UpstreamError
from proxy.providers.base import StreamPipe, Usage
from proxy.providers.pipes import FailedAfter
from proxy.sse import SSEDecoder, encode_named_events
from proxy.surfaces.responses.stream import ResponsesStreamTranslator


class ResponsesStreamPipe:
    def __init__(self, inner: StreamPipe, translator: ResponsesStreamTranslator) -> None:
        self._inner = inner
        self._translator = translator
        self._decoder = SSEDecoder()

    def feed(self, raw: bytes) -> bytes:
        try:
            return self._translate(self._inner.feed(raw))
        except FailedAfter as error:
            raise self._keep(error) from None

    def finish(self) -> bytes:
        try:
            out = self._translate(self._inner.finish())
        except FailedAfter as error:
            raise self._keep(error) from None
        return out + encode_named_events(self._translator.finish())

    def fail(self, error: ProxyError) -> bytes:
        return encode_named_events(self._translator.fail(error))

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    def _translate(self, data: bytes) -> bytes:
        if not data:
            return b""
        events: list[dict[str, Any]] = []
        for sse in self._decoder.feed(data):
            if sse.data == "[DONE]":
                continue
            chunk = orjson.loads(sse.data)
            if isinstance(chunk, dict):
                events += self._translator.feed(chunk)  # UpstreamError on a bad shape
        return encode_named_events(events)

    def _keep(self, error: FailedAfter) -> UpstreamError:
        return dataclasses.replace(error, before=self._translate(error.before))
