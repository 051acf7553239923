"""One request's spans while it runs (proxy/tracing.py starts them): a server span for the
request, a client span per upstream attempt, recorded as encoded attribute blocks and ids,
written as OTLP protobuf when the request ends and queued for the export thread.

Why blocks rather than attribute dicts encoded at the end: most of a span's attributes
come in groups that repeat from request to request (a deployment's fixed attributes, the
request's model and stream flag, how it ended: status, outcome, attempts, provider), so
each group is encoded once per distinct value and kept (Tracer). Measured with callgrind
in-process, the ~22 attributes of a request's two spans cost ~36k instructions to encode
from dicts, one entry at a time, even with each encoded attribute kept; as blocks, ~13k
(the new values included). What is new per request (ids, times, token counts, the
response id, durations) is encoded each time. Attribute order is the order the old dicts
had; tests/test_tracing_span.py checks the spans against that.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from proxy import tracing_encoding as encoding

if TYPE_CHECKING:
    from proxy.errors import UpstreamError
    from proxy.providers.base import Reply
    from proxy.request import ChatRequest
    from proxy.trace import RequestTrace
    from proxy.tracing import Tracer

# Request parameters recorded when the client set them: body field -> attribute.
_PARAMETERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
}
_PARAMETER_FIELDS = frozenset(_PARAMETERS)
_TTFT = "gen_ai.response.time_to_first_chunk"
_UNSET = encoding.UNSET_STATUS
_ERROR: encoding.Status = (encoding.ERROR, None)


class _Attempt:
    """One upstream attempt's span, as recorded while it runs."""

    __slots__ = ("end", "fixed", "name", "outcome", "span_id", "start", "status", "ttft")

    def __init__(self, span_id: int, name: str, fixed: bytes) -> None:
        self.span_id = span_id
        self.name = name
        self.fixed = fixed  # encoded: the deployment's attributes (Tracer.attempt)
        self.ttft: float | None = None
        self.outcome = ""
        self.start = time.time_ns()
        self.end = 0
        self.status = _UNSET


class RequestSpan:
    """One request's span and its attempts' spans: no SDK span object (with its lock,
    attribute checks and processor calls) on the request path. Span ids come from the
    SDK's id generator and the sampling decision from its sampler (OTEL_TRACES_SAMPLER);
    an unsampled request still passes on a traceparent (flags 00) and exports nothing."""

    __slots__ = (
        "_attempts",
        "_current",
        "_hex",
        "_parent",
        "_reply",
        "_request",
        "_start",
        "_tracer",
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
        self._hex = ""  # the trace id in hex, once needed
        self.name = "chat"
        self._request = b""  # encoded attributes: what the client asked for
        self._reply = b""  # and what the answer said (non-stream)
        self._attempts: list[_Attempt] = []
        self._current: _Attempt | None = None
        # The upstream request's trace headers for the current attempt (upstream.py).
        self.headers: tuple[tuple[bytes, bytes], ...] = ()

    def ids(self) -> tuple[str, str]:
        """(trace id, span id) in hex, for the access log line."""
        return self._trace_hex(), f"{self.span_id:016x}"

    def _trace_hex(self) -> str:
        if not self._hex:
            self._hex = f"{self.trace_id:032x}"
        return self._hex

    def request(self, req: ChatRequest, route: str | None) -> None:
        """What the client asked for, once the body is parsed."""
        body, tracer = req.body, self._tracer
        self.name = f"chat {req.model}"
        plain = req.models is None and route is None and _PARAMETER_FIELDS.isdisjoint(body)
        if plain and not tracer.capture_content:
            self._request = tracer.request(req.model, req.stream)
            return
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": req.model,
            "gen_ai.request.stream": req.stream,
        }
        for field, name in _PARAMETERS.items():
            value = body.get(field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[name] = value
        if req.models is not None:
            attributes["llm_proxy.request.models"] = req.models
        if route is not None:
            attributes["llm_proxy.request.route"] = route
        content = b""
        if tracer.capture_content:
            messages = orjson.dumps(body.get("messages")).decode()
            content = encoding.unique("gen_ai.input.messages", messages)
        self._request = encoding.attributes(attributes) + content

    def start_attempt(self, provider: str, model: str) -> None:
        """A client span for one upstream attempt; its traceparent goes upstream."""
        if self._current is not None:
            self.end_attempt("abandoned")  # never left open by a path that forgot it
        span_id = self._tracer.ids.generate_span_id()
        name, fixed = self._tracer.attempt(provider, model)
        self._current = _Attempt(span_id, name, fixed)
        # W3C Trace Context, written directly (what TraceContextTextMapPropagator.inject
        # writes, without building a Context per attempt).
        flags = "01" if self.sampled else "00"
        parent = f"00-{self._trace_hex()}-{span_id:016x}-{flags}".encode()
        if self.trace_state:
            self.headers = ((b"traceparent", parent), (b"tracestate", self.trace_state.encode()))
        else:
            self.headers = ((b"traceparent", parent),)

    def first_chunk(self, seconds: float) -> None:
        if self._current is not None:
            self._current.ttft = seconds

    def end_attempt(self, outcome: str, error: UpstreamError | None = None) -> None:
        attempt, self._current = self._current, None
        if attempt is None:
            return
        attempt.end = time.time_ns()
        attempt.outcome = outcome
        if outcome != "ok":
            # The message is redacted where the error was built (errors.py).
            attempt.status = (encoding.ERROR, error.message if error else outcome)
        self._attempts.append(attempt)

    def reply(self, reply: Reply) -> None:
        """A non-stream answer's id and finish reasons (and text, if content is captured),
        from the adapter's parsed answer when it has one (parsing again cost ~12k
        instructions a request, measured with callgrind)."""
        answer = reply.answer
        if answer is None:
            try:
                answer = orjson.loads(reply.body)
            except orjson.JSONDecodeError:
                return
        if not isinstance(answer, dict):
            return
        choices = answer.get("choices")
        if not isinstance(choices, list):
            choices = []
        if len(choices) == 1:  # most answers: no list to build
            only = choices[0]
            reason = only.get("finish_reason") if isinstance(only, dict) else None
            reasons: tuple[str, ...] = (str(reason),) if reason else ()
        else:
            reasons = tuple(
                [
                    str(c["finish_reason"])
                    for c in choices
                    if isinstance(c, dict) and c.get("finish_reason")
                ]
            )
        encoded = encoding.attribute("gen_ai.response.finish_reasons", reasons)
        answer_id = answer.get("id")
        if isinstance(answer_id, str):
            encoded += encoding.unique("gen_ai.response.id", answer_id)
        if self._tracer.capture_content:
            messages = orjson.dumps([c.get("message") for c in choices if isinstance(c, dict)])
            encoded += encoding.unique("gen_ai.output.messages", messages.decode())
        self._reply = encoded

    def finish(self, trace: RequestTrace, status: int) -> None:
        """End both spans from the request's account (trace.py calls this once), and queue
        them for export if the request is sampled."""
        ttft = None if trace.first_byte is None else trace.first_byte - trace.start
        if self._current is not None:  # a stream's attempt ends with the stream
            if ttft is not None:
                self._current.ttft = ttft
            self.end_attempt(trace.outcome)
        if not self.sampled:
            return
        if len(trace.attempts) == 1:  # most requests: no list to build
            only = trace.attempts[0]
            attempts: tuple[str, ...] = (f"{only.provider}:{only.outcome}",)
        else:
            attempts = tuple([f"{a.provider}:{a.outcome}" for a in trace.attempts])
        ended = self._tracer.outcome(
            status, trace.outcome, attempts, trace.provider, trace.upstream_model
        )
        parts = [self._request, self._reply, ended]
        if ttft is not None:
            parts.append(encoding.double(_TTFT, ttft))
        usage = trace.usage
        if usage is not None:
            parts.append(
                encoding.usage(usage.prompt, usage.completion, usage.cached, usage.reasoning)
            )
        # Issue 11 hook: once the trace carries the caller's key name, record it here as
        # the attribute llm_proxy.key.name (a configured name, never the key itself).
        state = _UNSET
        if status >= 400 or trace.outcome != "ok":
            parts.append(encoding.attribute("error.type", trace.outcome))
            state = _ERROR
        self._export(b"".join(parts), state)

    def _export(self, attributes: bytes, status: encoding.Status) -> None:
        """The request's spans, encoded now (proxy/tracing_encoding.py) and queued for the
        export thread (proxy/tracing_export.py)."""
        tracer, parent, state = self._tracer, self._parent, self.trace_state
        trace = encoding.trace_id(self.trace_id)
        below = encoding.links(state, self.span_id)  # an attempt's
        own = encoding.links(state, None if parent is None else parent[0])
        spans = []
        for a in self._attempts:
            ttft = b"" if a.ttft is None else encoding.double(_TTFT, a.ttft)
            spans.append(
                encoding.span(
                    trace,
                    a.span_id,
                    below,
                    a.name,
                    encoding.CLIENT,
                    a.start,
                    a.end,
                    a.fixed + ttft + tracer.attempt_end(a.outcome),
                    a.status,
                    False,
                )
            )
        spans.append(
            encoding.span(
                trace,
                self.span_id,
                own,
                self.name,
                encoding.SERVER,
                self._start,
                time.time_ns(),
                attributes,
                status,
                parent is not None and parent[1],
            )
        )
        tracer.queue.put(spans)
