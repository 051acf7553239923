"""proxy/tracing_recorder.py and the compiled recorder (proxy/_tracing_span.c): built here,
chosen unless PROXY_PURE_PYTHON=1, writing byte for byte what the Python RequestSpan
writes from the same recorded request, and keeping no reference a request made.
tests/test_tracing_span.py runs every recorded case through both recorders."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from proxy import tracing_attributes as attrs
from proxy import tracing_recorder
from proxy.config import parse_config
from proxy.errors import Attempt
from proxy.providers.base import Reply, Usage
from proxy.request import parse_chat_request
from proxy.trace import RequestTrace
from proxy.tracing import Tracer, Tracing
from proxy.tracing_span import RequestSpan

CONFIG = """providers:
  p0: {type: openai, base_url: "https://api.example.com:8443/v1", api_key: x}
models:
  smart: [{provider: p0, model: m0}]
auth: {disabled: true}
"""
MESSAGES = [{"role": "user", "content": "hi"}]


def test_the_compiled_recorder_is_built() -> None:
    """CI builds it (pip install -e . with a C compiler): without this test a failed build
    would leave every compiled case skipped."""
    assert tracing_recorder.COMPILED is not None, "proxy/_tracing_span.c was not built"


@pytest.mark.parametrize(("value", "compiled"), [("", True), ("0", True), ("1", False)])
def test_pure_python_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, compiled: bool
) -> None:
    monkeypatch.setenv("PROXY_PURE_PYTHON", value)
    expected = tracing_recorder.COMPILED if compiled else tracing_recorder.PYTHON
    assert tracing_recorder.chosen() is expected


@pytest.fixture
def tracer(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Tracer, list[bytes]]]:
    """A compiled recorder's tracer, its queued spans captured."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    monkeypatch.delenv("PROXY_PURE_PYTHON", raising=False)
    tracing = Tracing()
    spans: list[bytes] = []
    monkeypatch.setattr(tracing.queue, "put", lambda encoded, count: spans.append(encoded))
    yield tracing.for_config(parse_config(CONFIG, {})), spans
    tracing.queue.shutdown()


def request(
    tracer: Tracer, stream: bool, usage: Usage | None, answer: dict[str, Any] | None
) -> tuple[RequestSpan, RequestTrace]:
    """One answered request through the span's calls, as chat.py, router.py and trace.py
    make them."""
    req = parse_chat_request(
        orjson.dumps({"model": "smart", "messages": MESSAGES, "stream": stream})
    )
    trace = RequestTrace("smart", stream)
    trace.span = span = tracer.start({})
    span.request(req, None)
    span.start_attempt("p0", "m0")
    trace.attempts.append(Attempt("p0", "ok"))
    trace.provider, trace.upstream_model = "p0", "m0-2024"
    if stream:
        trace.mark_first_byte()
    else:
        span.end_attempt("ok")
    if answer is not None:
        span.reply(Reply(b"{}", usage, answer))  # the adapter's parsed answer is read
    trace.usage = usage
    span.finish(trace, 200)  # what trace.finish() ends with (its metrics take no negatives)
    return span, trace


@dataclass
class Failure:
    """What end_attempt reads of an UpstreamError."""

    message: str


def answer(answer_id: str = "chatcmpl-1", reason: str = "stop") -> dict[str, Any]:
    return {"id": answer_id, "choices": [{"index": 0, "finish_reason": reason}]}


CASES = {
    "plain": (False, Usage(9, 20, 0, 0), answer()),
    "wide counts": (False, Usage(9, 300, 0, 20000), answer()),
    "negative count": (False, Usage(-1, 5, 0, 0), answer()),  # int64: a 10-byte varint
    "count beyond int64": (False, Usage(1 << 64, 5, 0, 0), answer()),  # left out
    "no usage": (False, None, answer()),
    "long id": (False, Usage(1, 2, 3, 4), answer("x" * 300)),
    "unicode id": (False, Usage(1, 2, 3, 4), answer("chatcmpl-é✓")),
    "lone surrogate id": (False, Usage(1, 2, 3, 4), answer("bad-\ud800")),  # left out
    "unknown reason": (False, Usage(1, 2, 3, 4), answer(reason="odd_reason")),
    "stream": (True, Usage(9, 300, 0, 0), None),
}


@pytest.mark.parametrize(("stream", "usage", "body"), list(CASES.values()), ids=list(CASES))
def test_the_compiled_spans_are_what_the_python_steps_write(
    tracer: tuple[Tracer, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    stream: bool,
    usage: Usage | None,
    body: dict[str, Any] | None,
) -> None:
    """The compiled recorder writes both spans itself for these; RequestSpan._spans, run
    on the same recorded span (same ids and times; its clock set to the end the compiled
    one wrote), writes the same bytes."""
    tracer_, queued = tracer
    span, trace = request(tracer_, stream, usage, body)
    assert type(span) is not RequestSpan
    [written] = queued
    decoded = ExportTraceServiceRequest.FromString(tracer_.queue._batch.request([written]))
    attempt, server = decoded.resource_spans[0].scope_spans[0].spans
    monkeypatch.setattr("proxy.tracing_span.time_ns", lambda: server.end_time_unix_nano)
    tokens = b"" if usage is None else attrs.usage(*usage)
    assert RequestSpan._spans(span, trace, 200, tokens) == written  # type: ignore[arg-type]
    assert attempt.parent_span_id == server.span_id == span._own
    value = f"00-{span._trace.hex()}-{attempt.span_id.hex()}-01".encode()
    assert span.headers == ((b"traceparent", b"traceparent", value),)
    assert span.ids() == (span._trace.hex(), span._own.hex())
    assert (span.trace_id, span.span_id) == (
        int.from_bytes(span._trace, "big"),
        int.from_bytes(span._own, "big"),
    )


def test_an_attempt_left_open_is_abandoned_and_failures_keep_their_message(
    tracer: tuple[Tracer, list[bytes]],
) -> None:
    tracer_, _ = tracer
    span = tracer_.start({})
    span.start_attempt("p0", "m0")
    span.start_attempt("p0", "m0")  # the first was never ended
    span.end_attempt("timeout", None)
    span.start_attempt("p0", "m0")
    span.end_attempt("upstream_5xx", Failure("p0 said no"))  # type: ignore[arg-type]
    span.start_attempt("p0", "m0")
    with pytest.raises(AttributeError):  # as RequestSpan's: an error must say its message
        span.end_attempt("upstream_5xx", Reply(b"", None, None))  # type: ignore[arg-type]
    assert [a[5:] for a in span._attempts] == [
        ["abandoned", "abandoned"],
        ["timeout", "timeout"],
        ["upstream_5xx", "p0 said no"],
    ]
    assert span._current is not None  # still open: the failed call changed nothing


def test_a_request_keeps_no_reference(tracer: tuple[Tracer, list[bytes]]) -> None:
    """Every object a request makes is freed with it (a leaked reference per request
    would show as thousands of blocks)."""
    tracer_, queued = tracer
    shared = [tracer_, tracer_.ok_end, *tracer_.attempts.values(), *tracer_.requests.values()]

    def requests(n: int) -> None:
        for i in range(n):
            request(tracer_, i % 2 == 0, Usage(9, 300, 0, 0), answer(f"id-{i}"))
            queued.clear()

    requests(200)
    gc.collect()
    counts, blocks = [sys.getrefcount(o) for o in shared], sys.getallocatedblocks()
    requests(3000)
    gc.collect()
    assert [sys.getrefcount(o) for o in shared] == counts
    assert sys.getallocatedblocks() - blocks < 500
