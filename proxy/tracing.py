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
from collections.abc import Mapping
from time import time_ns
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_OFF,
    DEFAULT_ON,
    Decision,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from proxy import tracing_attributes as attrs
from proxy import tracing_encoding as encoding
from proxy import tracing_recorder
from proxy.config import Config, ProviderType
from proxy.tracing_export import EncodedSpanExporter, SpanQueue
from proxy.tracing_span import TTFT_HEAD, RequestSpan

if TYPE_CHECKING:
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
        # The SDK's default generator draws random.getrandbits: drawn here directly.
        self.random_ids = type(self.ids) is RandomIdGenerator
        self.sampler = tracing.sampler
        # A request with no caller's trace is a root: for the samplers the SDK makes of
        # always_on, always_off, parentbased_always_on and parentbased_always_off (module
        # constants), its decision is known now; any other sampler is asked per request.
        self.root_sampled = _STATIC_ROOTS.get(self.sampler)
        self.queue = tracing.queue
        self.capture_content = config.tracing.capture_content
        # Per provider, the attempt span's fixed attributes: no per-request lookups.
        self.providers: dict[str, dict[str, Any]] = {
            name: _provider_attributes(name, p.type, p.base_url)
            for name, p in config.providers.items()
        }
        # Encoded blocks, by what decides them. Each is bounded: a full one starts over.
        self.attempts: dict[tuple[str, str], tuple[bytes, bytes]] = {}
        self.outcomes: dict[tuple[Any, ...], bytes] = {}
        self._attempt_ends: dict[str, bytes] = {}
        self.requests: dict[tuple[str, bool], tuple[bytes, bytes]] = {}
        self.ok_end = self.attempt_end("ok", None)  # most attempts' end
        self.answers: dict[tuple[Any, ...], encoding.PairForm] = {}
        # Compiled or Python (proxy/tracing_recorder.py): how spans are made.
        self._span, self._root = tracing_recorder.chosen()

    def start(self, headers: Mapping[bytes, str]) -> RequestSpan:
        """The request's span, continuing the caller's W3C trace if it sent one; it starts
        now (chat.py calls this first, once the headers are read)."""
        sampled = self.root_sampled
        if sampled is None or b"traceparent" in headers:
            return self._sampled(headers)
        if self.random_ids:  # the SDK's generator: the ids drawn directly
            span = self._root(self, sampled)
            if span is not None:
                return span
        trace_id = self.ids.generate_trace_id().to_bytes(16, "big")
        return self._span(self, trace_id, self.new_span_id(), sampled, time_ns())

    def new_span_id(self) -> bytes:
        """A span id from the SDK's id generator (never 0), as its 8 bytes."""
        return self.ids.generate_span_id().to_bytes(8, "big")

    def _sampled(self, headers: Mapping[bytes, str]) -> RequestSpan:
        """A request whose sampling the SDK's sampler decides: a caller's trace, or a
        sampler that is not a constant (traceidratio, a custom one)."""
        parent_context = parent = None
        if b"traceparent" in headers:
            carrier = {k.decode(): v for k, v in headers.items() if k in _TRACE_HEADERS}
            parent_context = _PROPAGATOR.extract(carrier)
            caller = get_current_span(parent_context).get_span_context()
            parent = caller if caller.is_valid else None
        ids = self.ids
        trace_id = parent.trace_id if parent is not None else ids.generate_trace_id()
        sampling = self.sampler.should_sample(parent_context, trace_id, "chat", SpanKind.SERVER)
        state = sampling.trace_state
        return self._span(
            self,
            trace_id.to_bytes(16, "big"),
            self.new_span_id(),
            sampling.decision is Decision.RECORD_AND_SAMPLE,
            time_ns(),
            state.to_header() if state else "",
            None if parent is None else (parent.span_id.to_bytes(8, "big"), parent.is_remote),
        )

    def attempt(self, provider: str, model: str) -> tuple[bytes, bytes]:
        """An attempt span's encoded name and fixed attributes, per deployment."""
        fixed = {**self.providers.get(provider, {}), "gen_ai.request.model": model}
        value = (encoding.name_field(f"chat {model}"), attrs.attributes(fixed))
        return attrs.keep(self.attempts, (provider, model), value, _BLOCKS)

    def attempt_end(self, outcome: str, message: str | None) -> tuple[bytes, bytes]:
        """An attempt span's last attributes (its outcome, and error.type if it failed)
        and its status: an error, with the failure's message, if it failed."""
        known = self._attempt_ends.get(outcome)
        if known is None:
            attributes = {"llm_proxy.attempt.outcome": outcome}
            if outcome != "ok":
                attributes["error.type"] = outcome
            known = attrs.keep(self._attempt_ends, outcome, attrs.attributes(attributes), _BLOCKS)
        if outcome == "ok":
            return known, _OK_TAIL
        return known, encoding.tail((encoding.ERROR, message), False)

    def attempt_span(
        self,
        ids: bytes,
        deployment: tuple[bytes, bytes],
        start: int,
        end: int,
        ttft: float | None,
        outcome: str,
        message: str | None,
    ) -> bytes:
        """An attempt's encoded span, when RequestSpan._spans writes a request's spans step
        by step (a fallback, a caller's trace, a failure; the common answered request's go
        by Tracer.answered's struct)."""
        name, fixed = deployment
        if ttft is not None:
            fixed += TTFT_HEAD + attrs.DOUBLE.pack(ttft)
        done, tail = self.attempt_end(outcome, message)
        return encoding.framed(ids, name, encoding.CLIENT, start, end, fixed + done, tail)

    def answered(self, key: tuple[Any, ...], trace: RequestTrace) -> encoding.PairForm:
        """The struct of a request's two spans when its one attempt answered and it has no
        caller's trace (encoding.pair_form), with the request span's outcome attributes
        after the pair form's first five items; kept under `key` (RequestSpan._answered:
        status, deployment, request span name, whether the attempt has no time to first
        chunk, its provider and outcome, the answering provider and model). Empty if the
        spans do not fit the form."""
        status, deployment, name, plain, provider, outcome, answering, model = key
        outcome_key = (status, "ok", provider, outcome, answering, model)
        outcome_block = self.outcomes.get(outcome_key) or self.outcome(outcome_key, status, trace)
        attempt_name, fixed = deployment
        done, tail = self.ok_end
        rest = (fixed + done + tail,) if plain else (fixed + TTFT_HEAD, done + tail)
        pair = encoding.pair_form(attempt_name, rest, name)
        form = () if pair is None else (*pair[:5], outcome_block, *pair[5:])
        return attrs.keep(self.answers, key, form, _BLOCKS)

    def request(self, model: str, stream: bool) -> tuple[bytes, bytes]:
        """A request span's encoded name and first attributes, for a request with nothing
        more to record."""
        known = self.requests.get((model, stream))  # RequestSpan.request looks here first
        if known is None:
            attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.request.stream": stream,
            }
            value = (encoding.name_field(f"chat {model}"), attrs.attributes(attributes))
            known = attrs.keep(self.requests, (model, stream), value, _BLOCKS)
        return known

    def outcome(self, key: tuple[Any, ...], status: int, trace: RequestTrace) -> bytes:
        """A request span's attributes from how it ended, but the times and tokens; kept
        under `key` (RequestSpan.finish: what decides them)."""
        attributes: dict[str, Any] = {
            "http.response.status_code": status,
            "llm_proxy.outcome": trace.outcome,
            "llm_proxy.attempts": tuple([f"{a.provider}:{a.outcome}" for a in trace.attempts]),
        }
        fixed = self.providers.get(trace.provider)
        if fixed is not None:
            attributes["gen_ai.provider.name"] = fixed["gen_ai.provider.name"]
            attributes["llm_proxy.provider"] = trace.provider
        if trace.upstream_model is not None:
            attributes["gen_ai.response.model"] = trace.upstream_model
        return attrs.keep(self.outcomes, key, attrs.attributes(attributes), _BLOCKS)


_STATIC_ROOTS = {ALWAYS_ON: True, DEFAULT_ON: True, ALWAYS_OFF: False, DEFAULT_OFF: False}
_OK_TAIL = encoding.tail(encoding.UNSET_STATUS, False)  # an attempt's parent is local
_BLOCKS = 1024  # entries per Tracer table (distinct models, outcomes...) before it starts over


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
