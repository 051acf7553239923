"""OpenTelemetry spans for chat requests: one server span per request, one client span per
upstream attempt, exported over OTLP/HTTP (protobuf) in batches by a thread of their own,
never on the request path.

The SDK gives the sampler, the span ids and the resource; the official OTLP/HTTP exporter
sends. In between no SDK span object is made: a request's spans are recorded as ids, times
and encoded attribute blocks (proxy/tracing_span.py), written as OTLP protobuf when it
ends (proxy/tracing_encoding.py) and queued for the export thread (proxy/tracing_export.py).
Measured on the 2-core dev machine, live SDK spans cost ~120 us of CPU a request, and
finished SDK spans through BatchSpanProcessor and the exporter's encoder ~400 us a request
end to end (bench.tracing), most of it encoding; see bench/README.md for what this costs.

Imported only when `tracing.enabled` is true (state.py): with tracing off no OpenTelemetry
module is loaded and a request's only tracing work is `trace.span is None` checks.

Where spans go, the service name, the sampler and resource attributes come from the
standard OTEL_* environment variables (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT,
OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER[_ARG],
OTEL_RESOURCE_ATTRIBUTES), read by the SDK and the exporter themselves; the batching
knobs (OTEL_BSP_*) by tracing_export.py, as the SDK's BatchSpanProcessor reads them.

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
from typing import Any, TypeVar
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from proxy import tracing_encoding as encoding
from proxy.config import Config, ProviderType
from proxy.tracing_export import EncodedSpanExporter, SpanQueue
from proxy.tracing_span import RequestSpan

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
        self.resource, self.scope = self._provider.resource, InstrumentationScope("llm-proxy")
        batch = encoding.Batch(self.resource, self.scope)
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
    """What a request's spans need, precomputed per config (state.py), and the encoded
    attribute blocks that repeat from request to request (proxy/tracing_span.py)."""

    def __init__(self, tracing: Tracing, config: Config) -> None:
        self.tracing = tracing
        self.ids = tracing.ids
        self.queue = tracing.queue
        self.capture_content = config.tracing.capture_content
        # Per provider, the attempt span's fixed attributes: no per-request lookups.
        self.providers: dict[str, dict[str, Any]] = {
            name: _provider_attributes(name, p.type, p.base_url)
            for name, p in config.providers.items()
        }
        # Encoded blocks, by what decides them. Each is bounded: a full one starts over.
        self._attempts: dict[tuple[str, str], tuple[str, bytes]] = {}
        self._attempt_ends: dict[str, bytes] = {}
        self._requests: dict[tuple[str, bool], bytes] = {}
        self._outcomes: dict[tuple[int, str, tuple[str, ...], str, str | None], bytes] = {}

    def start(self, headers: Mapping[bytes, str], start: float) -> RequestSpan:
        """The request's span, continuing the caller's W3C trace if it sent one. `start`
        is the trace's perf_counter start, so the span covers the whole request."""
        parent_context = parent = None
        if b"traceparent" in headers:
            carrier = {k.decode(): v for k, v in headers.items() if k in _TRACE_HEADERS}
            parent_context = _PROPAGATOR.extract(carrier)
            caller = get_current_span(parent_context).get_span_context()
            parent = caller if caller.is_valid else None
        ids = self.ids
        trace_id = parent.trace_id if parent is not None else ids.generate_trace_id()
        sampling = self.tracing.sampler.should_sample(
            parent_context, trace_id, "chat", SpanKind.SERVER
        )
        state = sampling.trace_state
        begun = time.time_ns() - int((time.perf_counter() - start) * 1e9)
        return RequestSpan(
            self,
            trace_id,
            ids.generate_span_id(),
            sampling.decision is Decision.RECORD_AND_SAMPLE,
            state.to_header() if state else "",
            None if parent is None else (parent.span_id, parent.is_remote),
            begun,
        )

    def attempt(self, provider: str, model: str) -> tuple[str, bytes]:
        """An attempt span's name and fixed attributes, per routing-table deployment."""
        known = self._attempts.get((provider, model))
        if known is None:
            fixed = {**self.providers.get(provider, {}), "gen_ai.request.model": model}
            known = _keep(
                self._attempts, (provider, model), (f"chat {model}", encoding.attributes(fixed))
            )
        return known

    def attempt_end(self, outcome: str) -> bytes:
        """An attempt span's last attributes: its outcome, and error.type if it failed."""
        known = self._attempt_ends.get(outcome)
        if known is None:
            attributes = {"llm_proxy.attempt.outcome": outcome}
            if outcome != "ok":
                attributes["error.type"] = outcome
            known = _keep(self._attempt_ends, outcome, encoding.attributes(attributes))
        return known

    def request(self, model: str, stream: bool) -> bytes:
        """A request span's first attributes, for a request with nothing more to record."""
        known = self._requests.get((model, stream))
        if known is None:
            attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.request.stream": stream,
            }
            known = _keep(self._requests, (model, stream), encoding.attributes(attributes))
        return known

    def outcome(
        self,
        status: int,
        outcome: str,
        attempts: tuple[str, ...],
        provider: str,
        upstream_model: str | None,
    ) -> bytes:
        """A request span's attributes from how it ended, but the times and tokens."""
        key = (status, outcome, attempts, provider, upstream_model)
        known = self._outcomes.get(key)
        if known is None:
            attributes: dict[str, Any] = {
                "http.response.status_code": status,
                "llm_proxy.outcome": outcome,
                "llm_proxy.attempts": attempts,
            }
            fixed = self.providers.get(provider)
            if fixed is not None:
                attributes["gen_ai.provider.name"] = fixed["gen_ai.provider.name"]
                attributes["llm_proxy.provider"] = provider
            if upstream_model is not None:
                attributes["gen_ai.response.model"] = upstream_model
            known = _keep(self._outcomes, key, encoding.attributes(attributes))
        return known


_BLOCKS = 1024  # entries per Tracer table (distinct models, outcomes...) before it starts over
_K = TypeVar("_K")
_V = TypeVar("_V")


def _keep(table: dict[_K, _V], key: _K, value: _V) -> _V:
    if len(table) >= _BLOCKS:
        table.clear()
    table[key] = value
    return value


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
