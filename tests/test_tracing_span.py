"""proxy/tracing_span.py end to end in-process: a request's spans, recorded as encoded
blocks and queued, decode to exactly what the official encoder makes of the spans the
dict-based recording wrote before (reference() below, the old attribute order), for a
plain answer, parameters and routing, a stream, a fallback, an error, a caller's trace,
captured content; an unsampled request queues nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

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
  p1: {type: anthropic, base_url: "https://claude.example.com", api_key: y}
models:
  smart: [{provider: p0, model: m0}, {provider: p1, model: m1}]
auth: {disabled: true}
"""
ANSWER = {
    "id": "chatcmpl-123",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
}
USAGE = Usage(9, 300, 0, 20000)  # one-, two- and three-byte varints
CALLER = {b"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01", b"tracestate": "vendor=abc,x=y"}


@dataclass
class Captured:
    tracing: Tracing
    spans: list[bytes]

    def tracer(self, capture_content: bool = False) -> Tracer:
        content = "\ntracing: {enabled: true, capture_content: true}" if capture_content else ""
        return self.tracing.for_config(parse_config(CONFIG + content, {}))

    def decoded(self) -> Any:
        return ExportTraceServiceRequest.FromString(self.tracing.queue._batch.request(self.spans))


RECORDERS = {"python": tracing_recorder.PYTHON, "compiled": tracing_recorder.COMPILED}


@pytest.fixture(params=list(RECORDERS))
def captured(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    """Spans queued by either recorder (proxy/tracing_recorder.py): every case runs through
    the Python RequestSpan and the compiled one (tests/test_tracing_recorder.py fails if
    that was not built)."""
    recorder = RECORDERS[request.param]
    if recorder is None:
        pytest.skip("proxy/_tracing_span.c was not built")
    monkeypatch.setattr(tracing_recorder, "chosen", lambda: recorder)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    tracing = Tracing()
    spans: list[bytes] = []
    monkeypatch.setattr(tracing.queue, "put", lambda encoded, count: spans.append(encoded))
    yield Captured(tracing, spans)
    tracing.queue.shutdown()


@dataclass
class Failure:
    """What end_attempt reads of an UpstreamError."""

    message: str


def run(
    tracer: Tracer,
    body: dict[str, Any],
    attempts: list[tuple[str, str, str]],
    *,
    status: int = 200,
    headers: dict[bytes, str] | None = None,
    route: str | None = None,
    answer: dict[str, Any] | None = None,
    usage: Usage | None = USAGE,
) -> tuple[RequestTrace, Any]:
    """One request through the span's calls as chat.py, router.py, streaming.py and
    trace.py make them; `attempts` are (provider, model, outcome)."""
    req = parse_chat_request(orjson.dumps(body))
    trace = RequestTrace("smart", req.stream)
    span = tracer.start(headers or {})
    trace.span = span
    span.request(req, route)
    for provider, model, outcome in attempts:
        span.start_attempt(provider, model)
        trace.attempts.append(Attempt(provider, outcome))  # type: ignore[arg-type]
        if outcome == "ok":
            trace.provider, trace.upstream_model = provider, f"{model}-2024"
            if req.stream:
                trace.mark_first_byte()  # the attempt's span stays open with the stream
            else:
                span.end_attempt("ok")
        else:
            span.end_attempt(outcome, Failure(f"{provider} said no"))  # type: ignore[arg-type]
    if not attempts:
        trace.outcome = "model_not_found"
    elif attempts[-1][2] != "ok":
        trace.outcome = attempts[-1][2]
    if answer is not None:
        span.reply(Reply(orjson.dumps(answer), usage, answer))
    trace.usage = usage if attempts and attempts[-1][2] == "ok" else None
    trace.finish(status)
    return trace, span


def reference(
    tracer: Tracer, trace: RequestTrace, span: Any, body: dict[str, Any], decoded: Any, **kw: Any
) -> list[ReadableSpan]:
    """The spans as the dict-based recording built them (attribute dicts in this order),
    with the ids and times ours got."""
    [scope_spans] = decoded.resource_spans[0].scope_spans
    ours = {s.name if s.kind == 3 else "server": s for s in scope_spans.spans}
    flags = TraceFlags(TraceFlags.SAMPLED)
    state = TraceState.from_header([kw["tracestate"]]) if kw.get("tracestate") else None
    context = SpanContext(span.trace_id, span.span_id, False, flags, state)
    out = []
    for (provider, model, outcome), encoded in zip(
        kw["attempts"], [s for s in scope_spans.spans if s.kind == 3], strict=True
    ):
        attributes: dict[str, Any] = {**tracer.providers[provider], "gen_ai.request.model": model}
        if trace.first_byte is not None and outcome == "ok":
            attributes["gen_ai.response.time_to_first_chunk"] = trace.first_byte - trace.start
        attributes["llm_proxy.attempt.outcome"] = outcome
        failed = outcome != "ok"
        if failed:
            attributes["error.type"] = outcome
        out.append(
            ReadableSpan(
                f"chat {model}",
                SpanContext(span.trace_id, int.from_bytes(encoded.span_id), False, flags, state),
                context,
                tracer.tracing.resource,
                attributes,
                kind=SpanKind.CLIENT,
                status=Status(StatusCode.ERROR, f"{provider} said no")
                if failed
                else Status(StatusCode.UNSET),
                start_time=encoded.start_time_unix_nano,
                end_time=encoded.end_time_unix_nano,
                instrumentation_scope=tracer.tracing.scope,
            )
        )
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": body["models"][0] if "models" in body else body["model"],
        "gen_ai.request.stream": bool(body.get("stream")),
    }
    for field, name in [
        ("temperature", "gen_ai.request.temperature"),
        ("top_p", "gen_ai.request.top_p"),
        ("max_tokens", "gen_ai.request.max_tokens"),
        ("max_completion_tokens", "gen_ai.request.max_tokens"),
        ("seed", "gen_ai.request.seed"),
    ]:
        if field in body:
            attributes[name] = body[field]
    if "models" in body:
        attributes["llm_proxy.request.models"] = body["models"]
    if kw.get("route") is not None:
        attributes["llm_proxy.request.route"] = kw["route"]
    if kw.get("content"):
        attributes["gen_ai.input.messages"] = orjson.dumps(body["messages"]).decode()
    answer = kw.get("answer")
    if answer is not None:
        attributes["gen_ai.response.finish_reasons"] = [
            c["finish_reason"] for c in answer["choices"] if c.get("finish_reason")
        ]
        attributes["gen_ai.response.id"] = answer["id"]
        if kw.get("content"):
            messages = [c.get("message") for c in answer["choices"]]
            attributes["gen_ai.output.messages"] = orjson.dumps(messages).decode()
    status = kw["status"]
    attributes["http.response.status_code"] = status
    attributes["llm_proxy.outcome"] = trace.outcome
    attributes["llm_proxy.attempts"] = [f"{a.provider}:{a.outcome}" for a in trace.attempts]
    if trace.provider in tracer.providers:
        attributes["gen_ai.provider.name"] = tracer.providers[trace.provider][
            "gen_ai.provider.name"
        ]
        attributes["llm_proxy.provider"] = trace.provider
    if trace.upstream_model is not None:
        attributes["gen_ai.response.model"] = trace.upstream_model
    if trace.first_byte is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = trace.first_byte - trace.start
    if trace.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = trace.usage.prompt
        attributes["gen_ai.usage.output_tokens"] = trace.usage.completion
        attributes["gen_ai.usage.cache_read.input_tokens"] = trace.usage.cached
        attributes["gen_ai.usage.reasoning.output_tokens"] = trace.usage.reasoning
    failed = status >= 400 or trace.outcome != "ok"
    if failed:
        attributes["error.type"] = trace.outcome
    caller = kw.get("caller")
    server = ours["server"]
    out.append(
        ReadableSpan(
            f"chat {attributes['gen_ai.request.model']}",
            context,
            SpanContext(span.trace_id, caller, True, flags) if caller else None,
            tracer.tracing.resource,
            attributes,
            kind=SpanKind.SERVER,
            status=Status(StatusCode.ERROR) if failed else Status(StatusCode.UNSET),
            start_time=server.start_time_unix_nano,
            end_time=server.end_time_unix_nano,
            instrumentation_scope=tracer.tracing.scope,
        )
    )
    return out


def check(captured: Captured, body: dict[str, Any], **kw: Any) -> Any:
    tracer = captured.tracer(kw.pop("content", False))
    only_ours = {k: v for k, v in kw.items() if k not in ("caller", "tracestate")}
    trace, span = run(tracer, body, **only_ours)
    decoded = captured.decoded()
    kw.setdefault("status", 200)
    content = tracer.capture_content
    expected = reference(tracer, trace, span, body, decoded, content=content, **kw)
    assert decoded == encode_spans(expected)
    return decoded


MESSAGES = [{"role": "user", "content": "the question"}]


def test_a_plain_answer(captured: Captured) -> None:
    body = {"model": "smart", "messages": MESSAGES}
    check(captured, body, attempts=[("p0", "m0", "ok")], answer=ANSWER)


def test_parameters_models_and_route(captured: Captured) -> None:
    body = {
        "models": ["smart", "other"],
        "messages": MESSAGES,
        "temperature": 1,
        "top_p": 0.5,
        "max_tokens": 10,
        "max_completion_tokens": 20,
        "seed": -3,
    }
    check(captured, body, attempts=[("p0", "m0", "ok")], route="p0", answer=ANSWER)


def test_a_stream_records_time_to_first_chunk(captured: Captured) -> None:
    body = {"model": "smart", "messages": MESSAGES, "stream": True}
    decoded = check(captured, body, attempts=[("p1", "m1", "ok")])
    [scope_spans] = decoded.resource_spans[0].scope_spans
    assert all(
        "gen_ai.response.time_to_first_chunk" in {a.key for a in s.attributes}
        for s in scope_spans.spans
    )


def test_a_fallback(captured: Captured) -> None:
    body = {"model": "smart", "messages": MESSAGES}
    attempts = [("p0", "m0", "upstream_5xx"), ("p1", "m1", "ok")]
    check(captured, body, attempts=attempts, answer=ANSWER)


def test_an_error_with_no_attempt(captured: Captured) -> None:
    check(captured, {"model": "smart", "messages": MESSAGES}, attempts=[], status=404)


def test_all_attempts_failed(captured: Captured) -> None:
    body = {"model": "smart", "messages": MESSAGES}
    attempts = [("p0", "m0", "timeout"), ("p1", "m1", "upstream_5xx")]
    check(captured, body, attempts=attempts, status=502, usage=None)


def test_a_callers_trace_and_trace_state(captured: Captured) -> None:
    body = {"model": "smart", "messages": MESSAGES}
    check(
        captured,
        body,
        attempts=[("p0", "m0", "ok")],
        headers=CALLER,
        caller=int("cd" * 8, 16),
        tracestate="vendor=abc,x=y",
        answer=ANSWER,
    )


def test_captured_content(captured: Captured) -> None:
    body = {"model": "smart", "messages": MESSAGES}
    check(captured, body, attempts=[("p0", "m0", "ok")], answer=ANSWER, content=True)


def test_the_same_blocks_again_are_the_same_spans(captured: Captured) -> None:
    body = {"model": "smart", "messages": MESSAGES}
    for _ in range(3):  # the kept blocks (Tracer) and attributes (encoding) are reused
        captured.spans.clear()
        check(captured, body, attempts=[("p0", "m0", "ok")], answer=ANSWER)


def test_an_unsampled_request_queues_nothing(captured: Captured) -> None:
    unsampled = {b"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-00"}
    tracer = captured.tracer()
    run(tracer, {"model": "smart", "messages": MESSAGES}, [("p0", "m0", "ok")], headers=unsampled)
    assert captured.spans == []


@pytest.mark.parametrize("captured", ["python"], indirect=True)  # its methods
@pytest.mark.parametrize(
    ("stream", "usage"),
    [
        (False, USAGE),
        (False, Usage(9, 20, 0, 127)),  # one-byte counts: attrs.USAGE_SMALL
        (True, USAGE),
        (False, None),
    ],
)
def test_an_answered_request_by_one_struct_is_what_the_steps_write(
    captured: Captured, monkeypatch: pytest.MonkeyPatch, stream: bool, usage: Usage | None
) -> None:
    """RequestSpan._answered (one attempt that answered, no caller's trace: one kept
    struct) writes byte for byte what _spans (each part by its own step) writes, with the
    times where they belong."""
    clock = itertools.count(1_700_000_000_000_000_000, 1_000)
    monkeypatch.setattr("proxy.tracing.time_ns", lambda: next(clock))
    monkeypatch.setattr("proxy.tracing_recorder.time_ns", lambda: next(clock))
    monkeypatch.setattr("proxy.tracing_span.time_ns", lambda: next(clock))
    body = {"model": "smart", "messages": MESSAGES, "stream": stream}
    answer = None if stream else ANSWER
    trace, span = run(captured.tracer(), body, [("p1", "m1", "ok")], answer=answer, usage=usage)
    [queued] = captured.spans
    [_, _, start, end, *_] = span._attempts[0]
    assert span._start < start < end
    tokens = b"" if usage is None else attrs.usage(*usage)
    if usage is not None and max(usage) < 0x80:
        assert attrs.USAGE_SMALL % usage == tokens
    ended = next(clock)
    monkeypatch.setattr("proxy.tracing_span.time_ns", lambda: ended)
    by_struct = span._answered(trace, 200, span._attempts[0], tokens)
    assert by_struct == span._spans(trace, 200, tokens)
    assert len(by_struct) == len(queued)  # finish wrote it so too, but for its end time
    [scope_spans] = (
        ExportTraceServiceRequest.FromString(captured.tracing.queue._batch.request([by_struct]))
        .resource_spans[0]
        .scope_spans
    )
    attempt, server = scope_spans.spans
    assert (attempt.start_time_unix_nano, attempt.end_time_unix_nano) == (start, end)
    assert (server.start_time_unix_nano, server.end_time_unix_nano) == (span._start, ended)


@pytest.mark.parametrize("captured", ["python"], indirect=True)  # its methods
@pytest.mark.parametrize(
    ("attempts", "status", "by_struct"),
    [
        ([("p0", "m0", "ok")], 200, True),
        ([("p0", "m0", "upstream_5xx"), ("p1", "m1", "ok")], 200, False),
        ([("p0", "m0", "upstream_5xx")], 502, False),
        ([("p0", "m0", "ok")], 400, False),  # answered, but the request failed
    ],
)
def test_only_one_answered_attempt_is_written_by_the_struct(
    captured: Captured,
    monkeypatch: pytest.MonkeyPatch,
    attempts: list[tuple[str, str, str]],
    status: int,
    by_struct: bool,
) -> None:
    written: list[bytes] = []
    answered = RequestSpan._answered

    def spy(self: RequestSpan, *args: Any) -> bytes:
        written.append(answered(self, *args))
        return written[-1]

    monkeypatch.setattr(RequestSpan, "_answered", spy)
    body = {"model": "smart", "messages": MESSAGES}
    run(captured.tracer(), body, attempts, status=status)
    assert bool(written and written[0]) is by_struct
    assert len(captured.spans) == 1
