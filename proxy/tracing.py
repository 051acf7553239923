"""OpenTelemetry spans for chat requests: one server span per request, one client span per
upstream attempt, exported over OTLP/HTTP (protobuf) by the official SDK's batch processor
and exporter, on their own thread so export never runs on the request path.

Spans are built from the request's account: while the request runs only ids, times and
attributes are recorded (plain dicts); at its end (RequestTrace.finish) they are written as
OTLP protobuf (proxy/tracing_encoding.py) and queued for the export thread
(proxy/tracing_export.py), which sends them in batches through the official OTLP/HTTP
exporter. No SDK span object is made: live SDK spans cost about six times as much CPU per
request as this recording, and the SDK's finished spans and encoder ~100 us per span more
(measured on the 2-core dev machine; see those modules).

Imported only when `tracing.enabled` is true (state.py): with tracing off no OpenTelemetry
module is loaded and a request's only tracing work is `trace.span is None` checks.

Where spans go, the service name, the sampler and resource attributes come from the
standard OTEL_* environment variables (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT,
OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER[_ARG],
OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*), read by the SDK itself.

Attribute names follow the OpenTelemetry GenAI semantic conventions as shipped in
opentelemetry-semantic-conventions 0.66b2 (opentelemetry/semconv/_incubating/attributes/
gen_ai_attributes.py, now maintained in open-telemetry/semantic-conventions-genai):
span name `{gen_ai.operation.name} {gen_ai.request.model}`, gen_ai.provider.name,
gen_ai.usage.input_tokens / output_tokens / cache_read.input_tokens /
reasoning.output_tokens, gen_ai.response.time_to_first_chunk (seconds), and the general
`server.address` and `error.type`. What the conventions have no name for is under
`llm_proxy.*`. Content (gen_ai.input.messages / gen_ai.output.messages) is recorded only with
`tracing.capture_content: true`; secrets never (no header, key or URL query is recorded).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from proxy import tracing_encoding as encoding
from proxy.config import Config, ProviderType, TracingConfig
from proxy.tracing_export import EncodedSpanExporter, SpanQueue

if TYPE_CHECKING:
    from proxy.errors import UpstreamError
    from proxy.request import ChatRequest
    from proxy.trace import RequestTrace

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
# Our provider types -> gen_ai.provider.name well-known values (gen_ai_attributes.py,
# GenAiProviderNameValues); a type the conventions do not list is named as it is.
_PROVIDER_NAMES: Mapping[str, str] = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
}
# Request parameters recorded when the client set them: body field -> attribute.
_PARAMETERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
}
# A span's status: (opentelemetry.proto.trace.v1.Status.StatusCode, message).
Status = tuple[int, str | None]
_UNSET: Status = (encoding.UNSET, None)
_ERROR: Status = (encoding.ERROR, None)


class Tracing:
    """The process's sampler, ids, resource and span export: built once, flushed once."""

    def __init__(self) -> None:
        resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "llm-proxy"}))
        # The sampler comes from OTEL_TRACES_SAMPLER (default parentbased_always_on). The
        # provider makes no spans: it holds the sampler, the ids and the resource, and its
        # shutdown flushes the queue.
        self._provider = TracerProvider(resource=resource)
        batch = encoding.Batch(self._provider.resource, InstrumentationScope("llm-proxy"))
        self.queue = SpanQueue(EncodedSpanExporter(), batch)
        self._provider.add_span_processor(self.queue)
        self.sampler = self._provider.sampler
        self.ids = self._provider.id_generator

    def for_config(self, config: Config) -> Tracer:
        return Tracer(self, config)

    async def aclose(self, timeout: float) -> None:
        """Export what is still queued, waiting at most `timeout` seconds: the shutdown
        blocks (and the exporter retries an unreachable collector), so it runs in a daemon
        thread that the process does not wait for."""
        thread = threading.Thread(target=self._provider.shutdown, daemon=True)
        thread.start()
        await asyncio.to_thread(thread.join, timeout)


class Tracer:
    """What a request needs to start its span, precomputed per config (state.py)."""

    def __init__(self, tracing: Tracing, config: Config) -> None:
        self.tracing = tracing
        self.settings: TracingConfig = config.tracing
        # Per provider, the attempt span's fixed attributes: no per-request lookups.
        self.providers: dict[str, dict[str, Any]] = {
            name: _provider_attributes(name, p.type, p.base_url)
            for name, p in config.providers.items()
        }

    def start(self, headers: Mapping[bytes, str], start: float) -> RequestSpan:
        """The request's span, continuing the caller's W3C trace if it sent one. `start`
        is the trace's perf_counter start, so the span covers the whole request."""
        tracing = self.tracing
        parent_context = parent = None
        if b"traceparent" in headers:
            carrier = {k.decode(): v for k, v in headers.items() if k in _TRACE_HEADERS}
            parent_context = _PROPAGATOR.extract(carrier)
            caller = get_current_span(parent_context).get_span_context()
            parent = caller if caller.is_valid else None
        trace_id = parent.trace_id if parent is not None else tracing.ids.generate_trace_id()
        sampling = tracing.sampler.should_sample(parent_context, trace_id, "chat", SpanKind.SERVER)
        state = sampling.trace_state
        begun = time.time_ns() - int((time.perf_counter() - start) * 1e9)
        return RequestSpan(
            self,
            trace_id,
            tracing.ids.generate_span_id(),
            sampling.decision is Decision.RECORD_AND_SAMPLE,
            state.to_header() if state else "",
            None if parent is None else (parent.span_id, parent.is_remote),
            begun,
        )


class _Attempt:
    """One upstream attempt's span, as recorded while it runs."""

    __slots__ = ("attributes", "end", "name", "span_id", "start", "status")

    def __init__(self, name: str, span_id: int, attributes: dict[str, Any]) -> None:
        self.name = name
        self.span_id = span_id
        self.attributes = attributes
        self.start = time.time_ns()
        self.end = 0
        self.status = _UNSET


class RequestSpan:
    """One request's span and its attempts' spans, recorded as plain data while the request
    runs and encoded for export at its end: no SDK span object (with its lock, attribute
    checks and processor calls) on the request path. Span ids come from the SDK's id
    generator and the sampling decision from its sampler (OTEL_TRACES_SAMPLER); an
    unsampled request still passes on a traceparent (flags 00) and exports nothing."""

    __slots__ = (
        "_attempts",
        "_current",
        "_parent",
        "_start",
        "_tracer",
        "attributes",
        "headers",
        "name",
        "sampled",
        "span_id",
        "trace_id",
        "trace_state",
    )

    def __init__(
        self,
        tracer: Tracer,
        trace_id: int,
        span_id: int,
        sampled: bool,
        trace_state: str,
        parent: tuple[int, bool] | None,
        start: int,
    ) -> None:
        self._tracer = tracer
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled
        self.trace_state = trace_state  # the W3C tracestate header, "" for none
        self._parent = parent  # (the caller's span id, remote)
        self._start = start
        self.name = "chat"
        self.attributes: dict[str, Any] = {}
        self._attempts: list[_Attempt] = []
        self._current: _Attempt | None = None
        # The upstream request's trace headers for the current attempt (upstream.py).
        self.headers: tuple[tuple[bytes, bytes], ...] = ()

    def ids(self) -> tuple[str, str]:
        """(trace id, span id) in hex, for the access log line."""
        return f"{self.trace_id:032x}", f"{self.span_id:016x}"

    def request(self, req: ChatRequest, route: str | None) -> None:
        """What the client asked for, once the body is parsed."""
        body, attributes = req.body, self.attributes
        self.name = f"chat {req.model}"
        attributes["gen_ai.operation.name"] = "chat"
        attributes["gen_ai.request.model"] = req.model
        attributes["gen_ai.request.stream"] = req.stream
        for field, name in _PARAMETERS.items():
            value = body.get(field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[name] = value
        if req.models is not None:
            attributes["llm_proxy.request.models"] = list(req.models)
        if route is not None:
            attributes["llm_proxy.request.route"] = route
        if self._tracer.settings.capture_content:
            attributes["gen_ai.input.messages"] = orjson.dumps(body.get("messages")).decode()

    def start_attempt(self, provider: str, model: str) -> None:
        """A client span for one upstream attempt; its traceparent goes upstream."""
        self.end_attempt("abandoned")  # never left open by a path that forgot it
        span_id = self._tracer.tracing.ids.generate_span_id()
        fixed = self._tracer.providers.get(provider, {})
        self._current = _Attempt(f"chat {model}", span_id, {**fixed, "gen_ai.request.model": model})
        # W3C Trace Context, written directly (what TraceContextTextMapPropagator.inject
        # writes, without building a Context per attempt).
        flags = "01" if self.sampled else "00"
        parent = f"00-{self.trace_id:032x}-{span_id:016x}-{flags}".encode()
        if self.trace_state:
            self.headers = ((b"traceparent", parent), (b"tracestate", self.trace_state.encode()))
        else:
            self.headers = ((b"traceparent", parent),)

    def first_chunk(self, seconds: float) -> None:
        if self._current is not None:
            self._current.attributes["gen_ai.response.time_to_first_chunk"] = seconds

    def end_attempt(self, outcome: str, error: UpstreamError | None = None) -> None:
        attempt, self._current = self._current, None
        if attempt is None:
            return
        attempt.end = time.time_ns()
        attempt.attributes["llm_proxy.attempt.outcome"] = outcome
        if outcome != "ok":
            attempt.attributes["error.type"] = outcome
            # The message is redacted where the error was built (errors.py).
            attempt.status = (encoding.ERROR, error.message if error else outcome)
        self._attempts.append(attempt)

    def reply(self, body: bytes) -> None:
        """A non-stream answer's id and finish reasons (and text, if content is captured)."""
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            return
        if not isinstance(answer, dict):
            return
        choices = [c for c in answer.get("choices") or () if isinstance(c, dict)]
        attributes = self.attributes
        reasons = [str(c["finish_reason"]) for c in choices if c.get("finish_reason")]
        attributes["gen_ai.response.finish_reasons"] = reasons
        if isinstance(answer.get("id"), str):
            attributes["gen_ai.response.id"] = answer["id"]
        if self._tracer.settings.capture_content:
            messages = [c.get("message") for c in choices]
            attributes["gen_ai.output.messages"] = orjson.dumps(messages).decode()

    def finish(self, trace: RequestTrace, status: int) -> None:
        """End both spans from the request's account (trace.py calls this once), and hand
        them to the batch exporter if the request is sampled."""
        ttft = None if trace.first_byte is None else trace.first_byte - trace.start
        if ttft is not None:
            self.first_chunk(ttft)
        self.end_attempt(trace.outcome)  # a stream's attempt ends with the stream
        if not self.sampled:
            return
        attributes = self.attributes
        attributes["http.response.status_code"] = status
        attributes["llm_proxy.outcome"] = trace.outcome
        attributes["llm_proxy.attempts"] = [f"{a.provider}:{a.outcome}" for a in trace.attempts]
        fixed = self._tracer.providers.get(trace.provider)
        if fixed is not None:
            attributes["gen_ai.provider.name"] = fixed["gen_ai.provider.name"]
            attributes["llm_proxy.provider"] = trace.provider
        if trace.upstream_model is not None:
            attributes["gen_ai.response.model"] = trace.upstream_model
        if ttft is not None:
            attributes["gen_ai.response.time_to_first_chunk"] = ttft
        usage = trace.usage
        if usage is not None:
            attributes["gen_ai.usage.input_tokens"] = usage.prompt
            attributes["gen_ai.usage.output_tokens"] = usage.completion
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached
            attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning
        # Issue 11 hook: once the trace carries the caller's key name, record it here as
        # attributes["llm_proxy.key.name"] (a configured name, never the key itself).
        state = _UNSET
        if status >= 400 or trace.outcome != "ok":
            attributes["error.type"] = trace.outcome
            state = _ERROR
        self._export(attributes, state)

    def _export(self, attributes: dict[str, Any], status: Status) -> None:
        """Both spans (all attempts'), encoded now and queued for the export thread."""
        trace_id, state, own = self.trace_id, self.trace_state, (self.span_id, False)
        spans = [
            encoding.span(
                trace_id,
                a.span_id,
                state,
                own,
                a.name,
                encoding.CLIENT,
                a.start,
                a.end,
                encoding.attributes(a.attributes),
                a.status,
            )
            for a in self._attempts
        ]
        spans.append(
            encoding.span(
                trace_id,
                self.span_id,
                state,
                self._parent,
                self.name,
                encoding.SERVER,
                self._start,
                time.time_ns(),
                encoding.attributes(attributes),
                status,
            )
        )
        self._tracer.tracing.queue.put(spans)


def _provider_attributes(name: str, ptype: ProviderType, base_url: str) -> dict[str, Any]:
    parts = urlsplit(base_url)  # only host and port: a URL's query may hold a key
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _PROVIDER_NAMES.get(ptype, ptype),
        "llm_proxy.provider": name,
    }
    if parts.hostname:
        attributes["server.address"] = parts.hostname
        if parts.port is not None:
            attributes["server.port"] = parts.port
    return attributes
