"""ResponsesStreamPipe (proxy/surfaces/responses/pipe.py): a route's chat pipe re-encoded as
the Responses event stream, failures after good chunks keeping them, `response.failed`."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.base import Usage
from proxy.providers.pipes import FailedAfter
from proxy.surfaces.responses.context import ResponseContext
from proxy.surfaces.responses.pipe import ResponsesStreamPipe
from proxy.surfaces.responses.stream import ResponsesStreamTranslator


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + orjson.dumps({"choices": [choice]}) + b"\n\n"


class Inner:
    """A chat pipe that says what the test scripted: bytes, or a failure."""

    def __init__(self, *outputs: bytes | UpstreamError) -> None:
        self.outputs = list(outputs)

    def feed(self, raw: bytes) -> bytes:
        return self._next()

    def finish(self) -> bytes:
        return self._next()

    def _next(self) -> bytes:
        out = self.outputs.pop(0)
        if isinstance(out, UpstreamError):
            raise out
        return out

    @property
    def usage(self) -> Usage | None:
        return Usage(prompt=1)


def events(data: bytes) -> list[dict[str, Any]]:
    lines = data.decode().splitlines()
    return [json.loads(line[6:]) for line in lines if line.startswith("data: ")]


def pipe(inner: Inner) -> ResponsesStreamPipe:
    return ResponsesStreamPipe(inner, ResponsesStreamTranslator(ResponseContext("resp_1", 0, "m")))


def test_chat_chunks_become_named_responses_events_ending_completed() -> None:
    p = pipe(Inner(chunk({"content": "Hi"}), chunk({}, "stop") + b"data: [DONE]\n\n"))
    first = p.feed(b"x")
    assert first.startswith(b"event: response.created\ndata: ")
    out = events(first + p.finish())
    kinds = [e["type"] for e in out]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert p.usage == Usage(prompt=1)


def test_a_failure_after_good_chunks_keeps_them_translated() -> None:
    error = upstream_transport_error("p", "stream_error", "boom")
    failed = FailedAfter(**{**vars(error)}, before=chunk({"content": "more"}))
    p = pipe(Inner(chunk({"content": "Hi"}), failed))
    p.feed(b"x")
    with pytest.raises(FailedAfter) as caught:
        p.feed(b"y")
    kept = events(caught.value.before)
    assert [e["delta"] for e in kept if e["type"] == "response.output_text.delta"] == ["more"]


def test_fail_is_response_failed_numbered_after_what_was_sent() -> None:
    p = pipe(Inner(chunk({"content": "Hi"})))
    sent = events(p.feed(b"x"))
    failed = events(p.fail(upstream_transport_error("p", "stream_error", "boom")))
    assert [e["type"] for e in failed] == ["response.failed"]
    assert failed[0]["sequence_number"] == len(sent)
    assert failed[0]["response"]["error"]["code"] == "server_error"
