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

proxy/_tracing_span.c is this class compiled for the common request (proxy/tracing_recorder.py
chooses): it has the same fields under the same names and runs request(), reply() and
_spans() from here, with itself as `self`, for everything else. So those three touch only
fields and module functions (no other method of this class), and a change here is a
change there: tests/test_tracing_recorder.py compares the two.
"""

from __future__ import annotations

from binascii import hexlify
from random import getrandbits
from struct import Struct
from time import time_ns
from typing import TYPE_CHECKING, Any

import orjson

from proxy import tracing_attributes as attrs
from proxy import tracing_encoding as encoding

if TYPE_CHECKING:
    from proxy.errors import UpstreamError
    from proxy.providers.base import Reply
    from proxy.request import ChatRequest
    from proxy.trace import RequestTrace
    from proxy.tracing import Tracer

# Request parameters recorded when the client set them: body field -> attribute.
PARAMETERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
}
_PARAMETER_FIELDS = frozenset(PARAMETERS)
# An attribute gen_ai.response.time_to_first_chunk but its 8-byte value (tracing.py too).
TTFT_HEAD = attrs.double("gen_ai.response.time_to_first_chunk", 0.0)[:-8]
_DOUBLE = attrs.DOUBLE
_UNSET = encoding.UNSET_STATUS
_ERROR: encoding.Status = (encoding.ERROR, None)
_FINISH_REASONS = "gen_ai.response.finish_reasons"
# One choice's finish reason (stop, length...) -> the form of its attribute followed by
# gen_ai.response.id (attrs.unique_after).
REPLIES: dict[str, attrs.UniqueForm] = {}


def reply_form(reason: str) -> attrs.UniqueForm:
    form = attrs.unique_form("gen_ai.response.id", attrs.attribute(_FINISH_REASONS, (reason,)))
    if len(REPLIES) < 64:  # the known reasons; an upstream's odd ones are not kept
        REPLIES[reason] = form
    return form


def _answer(capture_content: bool, choices: Any, answer_id: Any) -> bytes:
    """RequestSpan.reply()'s attributes, for any answer (a function: the compiled
    recorder, proxy/_tracing_span.c, runs reply() on its own object too)."""
    if not isinstance(choices, list):
        choices = []
    reasons = tuple(
        [str(c["finish_reason"]) for c in choices if isinstance(c, dict) and c.get("finish_reason")]
    )
    encoded = attrs.attribute(_FINISH_REASONS, reasons)
    if isinstance(answer_id, str):
        encoded += attrs.unique("gen_ai.response.id", answer_id)
    if capture_content:
        messages = orjson.dumps([c.get("message") for c in choices if isinstance(c, dict)])
        encoded += attrs.unique("gen_ai.output.messages", messages.decode())
    return encoded


CHAT = encoding.name_field("chat")  # a request that ended before its body was read


# An attempt while it runs, a list (built and updated in the fewest steps; callgrind):
# [span id, deployment, start, end, time to first chunk, outcome, message]. The span id is
# its 8 bytes; the deployment is Tracer.attempt()'s (encoded name, encoded fixed
# attributes); start and end are wall-clock ns; the message is the failure's redacted one,
# if it failed. Updated items:
_END, _TTFT_AT, _OUTCOME, _MESSAGE = 3, 4, 5, 6
# The traceparent an attempt sends: version, trace id (hex), its span id (hex), flags.
_TRACEPARENT = {True: b"00-%b-%b-01", False: b"00-%b-%b-00"}
_TRACEPARENT_NAME, _TRACESTATE_NAME = b"traceparent", b"tracestate"
# A request span without a caller's trace, not failed: unset status, a local (no) parent.
REQUEST_TAIL = encoding.tail(_UNSET, False)
_TTFT = Struct(f"<{len(TTFT_HEAD)}sd")  # the time to first chunk attribute: head, value
_TRACE_TAG, _SPAN_TAG, _PARENT_TAG = encoding.TRACE_TAG, encoding.SPAN_TAG, encoding.PARENT_TAG


class RequestSpan:
    """One request's span and its attempts' spans: no SDK span object (with its lock,
    attribute checks and processor calls) on the request path. Span ids come from the
    SDK's id generator and the sampling decision from its sampler (OTEL_TRACES_SAMPLER),
    as Tracer.start says; an unsampled request still passes on a traceparent (flags 00)
    and exports nothing. Ids are kept as their bytes (big-endian, as on the wire)."""

    __slots__ = (
        "_attempts",
        "_current",
        "_own",
        "_parent",
        "_reply",
        "_request",
        "_start",
        "_trace",
        "_tracer",
        "headers",
        "name",
        "sampled",
        "trace_state",
    )

    def __init__(
        self,
        tracer: Tracer,
        trace_id: bytes,
        span_id: bytes,
        sampled: bool,
        start: int,
        trace_state: str = "",
        parent: tuple[bytes, bool] | None = None,
    ) -> None:
        self._tracer = tracer
        self._trace = trace_id  # 16 bytes
        self._own = span_id  # 8 bytes
        self.sampled = sampled
        self._start = start  # wall-clock ns
        self.trace_state = trace_state  # the W3C tracestate header, "" for none
        self._parent = parent  # (the caller's span id, remote)
        self.name = b""  # the encoded name field (encoding.name_field): "chat {model}"
        self._request = b""  # encoded attributes: what the client asked for
        self._reply = b""  # and what the answer said (non-stream)
        self._attempts: list[list[Any]] = []
        self._current: list[Any] | None = None
        # The upstream request's trace headers for the current attempt (upstream.py), in
        # httpx's form: (name, lowercased name, value).
        self.headers: tuple[tuple[bytes, bytes, bytes], ...] = ()

    @property
    def trace_id(self) -> int:
        return int.from_bytes(self._trace, "big")

    @property
    def span_id(self) -> int:
        return int.from_bytes(self._own, "big")

    def ids(self) -> tuple[str, str]:
        """(trace id, span id) in hex, for the access log line."""
        return self._trace.hex(), self._own.hex()

    def request(self, req: ChatRequest, route: str | None) -> None:
        """What the client asked for, once the body is parsed."""
        body, tracer = req.body, self._tracer
        plain = req.models is None and route is None and _PARAMETER_FIELDS.isdisjoint(body)
        if plain and not tracer.capture_content:
            model, stream = req.model, req.stream
            known = tracer.requests.get((model, stream)) or tracer.request(model, stream)
            self.name, self._request = known
            return
        self.name = encoding.name_field(f"chat {req.model}")
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": req.model,
            "gen_ai.request.stream": req.stream,
        }
        for field, name in PARAMETERS.items():
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
            content = attrs.unique("gen_ai.input.messages", messages)
        self._request = attrs.attributes(attributes) + content

    def start_attempt(self, provider: str, model: str) -> None:
        """A client span for one upstream attempt; its traceparent goes upstream."""
        if self._current is not None:
            self.end_attempt("abandoned")  # never left open by a path that forgot it
        tracer = self._tracer
        bits = getrandbits(64) if tracer.random_ids else 0
        # 0: another id generator (OTEL_PYTHON_ID_GENERATOR), or a zero drawn
        span_id = bits.to_bytes(8, "big") if bits else tracer.new_span_id()
        deployment = tracer.attempts.get((provider, model)) or tracer.attempt(provider, model)
        self._current = [span_id, deployment, time_ns(), 0, None, "", None]
        # W3C Trace Context, written directly (what TraceContextTextMapPropagator.inject
        # writes, without building a Context per attempt).
        value = _TRACEPARENT[self.sampled] % (hexlify(self._trace), hexlify(span_id))
        parent = (_TRACEPARENT_NAME, _TRACEPARENT_NAME, value)
        if self.trace_state:
            state = self.trace_state.encode()
            self.headers = (parent, (_TRACESTATE_NAME, _TRACESTATE_NAME, state))
        else:
            self.headers = (parent,)

    def first_chunk(self, seconds: float) -> None:
        if self._current is not None:
            self._current[_TTFT_AT] = seconds

    def end_attempt(self, outcome: str, error: UpstreamError | None = None) -> None:
        attempt = self._current
        if attempt is None:
            return
        self._current = None
        attempt[_END] = time_ns()
        attempt[_OUTCOME] = outcome
        if outcome != "ok":
            # The message is redacted where the error was built (errors.py).
            attempt[_MESSAGE] = error.message if error else outcome
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
        choices, answer_id = answer.get("choices"), answer.get("id")
        if (
            choices.__class__ is list
            and len(choices) == 1
            and answer_id.__class__ is str
            and not self._tracer.capture_content
        ):  # most answers: one choice, its reason's attribute and the id by one format
            only = choices[0]
            reason = only.get("finish_reason") if only.__class__ is dict else None
            if reason.__class__ is str:
                form = REPLIES.get(reason) or reply_form(reason)
                self._reply = attrs.unique_after(form, answer_id)
                return
        self._reply = _answer(self._tracer.capture_content, choices, answer_id)

    def finish(self, trace: RequestTrace, status: int) -> None:
        """End both spans from the request's account (trace.py calls this once), encode
        them (proxy/tracing_encoding.py) and queue them for the export thread
        (proxy/tracing_export.py) if the request is sampled. Written for the fewest steps
        (each Python step is ~0.1-1k instructions, a call ~0.5k; callgrind)."""
        first = trace.first_byte
        if self._current is not None:  # a stream's attempt ends with the stream
            if first is not None:
                self._current[_TTFT_AT] = first - trace.start
            self.end_attempt(trace.outcome)
        if not self.sampled:
            return
        usage = trace.usage
        if usage is None:
            tokens = b""
        elif 0 <= (usage.prompt | usage.completion | usage.cached | usage.reasoning) < 0x80:
            tokens = attrs.USAGE_SMALL % usage  # one-byte counts (`|`: the largest's bits)
        else:
            tokens = attrs.usage(usage.prompt, usage.completion, usage.cached, usage.reasoning)
        attempts = self._attempts
        if (
            len(attempts) == 1
            and trace.outcome == "ok"
            and status < 400
            and self._parent is None
            and not self.trace_state
            and len(trace.attempts) == 1
        ):
            spans = self._answered(trace, status, attempts[0], tokens)
            if spans:
                self._tracer.queue.put(spans, 2)
                return
        self._tracer.queue.put(self._spans(trace, status, tokens), len(attempts) + 1)

    def _answered(
        self, trace: RequestTrace, status: int, attempt: list[Any], tokens: bytes
    ) -> bytes:
        """Both spans of a request whose one attempt answered, with no caller's trace (most
        requests), by one kept struct (Tracer.answered); b"" if this one does not fit
        it (then _spans writes them)."""
        first, ttft = trace.first_byte, attempt[_TTFT_AT]
        if attempt[_OUTCOME] != "ok" or (first is None) is not (ttft is None):
            return b""  # or a time to first chunk on one span only: not the struct's shape
        only = trace.attempts[0]
        key = (
            status,
            attempt[1],
            self.name or CHAT,
            ttft is None,
            only.provider,
            only.outcome,
            trace.provider,
            trace.upstream_model,
        )
        form = self._tracer.answers.get(key) or self._tracer.answered(key, trace)
        if not form:
            return b""
        if ttft is None:
            attributes = b"".join((self._request, self._reply, form[5], tokens, REQUEST_TAIL))
        else:
            assert first is not None  # the attempt's shape is the request's: checked above
            ttft_attribute = _TTFT.pack(TTFT_HEAD, first - trace.start)
            attributes = b"".join(
                (self._request, self._reply, form[5], ttft_attribute, tokens, REQUEST_TAIL)
            )
        size = form[1] + len(attributes)  # the request span's
        if not 0x80 <= size < 0x4000:
            return b""
        trace_id, own, length = self._trace, self._own, (size & 0x7F) | 0x80 | (size >> 7) << 8
        spans: bytes
        if ttft is None:
            spans = form[0](
                form[2], trace_id, _SPAN_TAG, attempt[0], _PARENT_TAG, own, form[3],
                attempt[2], 0x41, attempt[3], form[6],
                0x12, length, _TRACE_TAG, trace_id, _SPAN_TAG, own, form[4],
                self._start, 0x41, time_ns(),
            )  # fmt: skip
        else:
            spans = form[0](
                form[2], trace_id, _SPAN_TAG, attempt[0], _PARENT_TAG, own, form[3],
                attempt[2], 0x41, attempt[3], form[6], ttft, form[7],
                0x12, length, _TRACE_TAG, trace_id, _SPAN_TAG, own, form[4],
                self._start, 0x41, time_ns(),
            )  # fmt: skip
        return spans + attributes

    def _spans(self, trace: RequestTrace, status: int, tokens: bytes) -> bytes:
        """Both spans of any request: each part by its own step."""
        tracer, attempts, outcome, first = (
            self._tracer,
            trace.attempts,
            trace.outcome,
            trace.first_byte,
        )
        # What decides the outcome block (Tracer.outcome); one attempt (most requests)
        # without building its "provider:outcome" string, and a key of another length.
        if len(attempts) == 1:
            only = attempts[0]
            key: tuple[Any, ...] = (status, outcome, only.provider, only.outcome)
        else:
            key = (status, outcome, tuple([f"{a.provider}:{a.outcome}" for a in attempts]))
        key += (trace.provider, trace.upstream_model)
        attributes = b"".join(
            (
                self._request,
                self._reply,
                tracer.outcomes.get(key) or tracer.outcome(key, status, trace),
                b"" if first is None else TTFT_HEAD + _DOUBLE.pack(first - trace.start),
                tokens,
            )
        )
        # Issue 11 hook: once the trace carries the caller's key name, record it here as
        # the attribute llm_proxy.key.name (a configured name, never the key itself).
        failed = status >= 400 or outcome != "ok"
        if failed:
            attributes += attrs.attribute("error.type", outcome)
        trace_id, own, state, parent = self._trace, self._own, self.trace_state, self._parent
        spans = []
        if self._attempts:
            # An attempt's parent is our span: Span.trace_state (3), parent_span_id (4).
            below = encoding.links(state, own)
            for span_id, deployment, start, end, ttft, ended, message in self._attempts:
                ids = encoding.ids(trace_id, span_id) + below
                spans.append(tracer.attempt_span(ids, deployment, start, end, ttft, ended, message))
        ids = encoding.ids(trace_id, own)
        if parent is not None or state:
            ids += encoding.links(state, None if parent is None else parent[0])
        remote = parent is not None and parent[1]
        tail = encoding.tail(_ERROR if failed else _UNSET, remote)
        name = self.name or CHAT
        end = time_ns()
        spans.append(
            encoding.framed(ids, name, encoding.SERVER, self._start, end, attributes, tail)
        )
        return b"".join(spans)
