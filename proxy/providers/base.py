"""The adapter contract every provider family implements, and the wire-shape types.

Adapters are pure translators: no I/O, no clock, no random ids. Everything that varies per
request but must be deterministic (ids, timestamps) arrives in a CallContext.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson

from proxy.config import ProviderConfig
from proxy.embeddings_request import EmbeddingsRequest
from proxy.errors import UpstreamError, invalid_request, upstream_transport_error
from proxy.request import ChatRequest
from proxy.sse import SSEEvent

if TYPE_CHECKING:
    from proxy.providers.anthropic.passthrough import MessagesPassthrough
    from proxy.providers.openai_responses import ResponsesPassthrough

# The records made for every request (UpstreamRequest, CallContext, Usage, Reply, and
# request.ChatRequest) are NamedTuples: as immutable as frozen dataclasses, built in about
# a third of the time (0.9-1.2 us against 2.6-3.1 us for seven fields, CPython 3.11: a
# frozen dataclass sets each field through object.__setattr__).
# OpenAI wire shapes are kept as plain dicts (parsed once by orjson); these aliases name them.
OpenAIRequest = dict[str, Any]
OpenAIResponse = dict[str, Any]
OpenAIChunk = dict[str, Any]


class UpstreamRequest(NamedTuple):
    url: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Bounds on what one stream may make us hold, from the `server:` section (built once)."""

    max_event: int = 32 * 1024 * 1024  # one event (server.max_response_bytes, as non-stream)
    max_precommit: int = 256 * 1024  # non-data events held before the first data event


DEFAULT_LIMITS = StreamLimits()


class CallContext(NamedTuple):
    """Fixed once per request at the edge so that translation is deterministic."""

    public_model: str
    upstream_model: str
    response_id: str  # "chatcmpl-..."
    created: int  # unix seconds
    include_usage: bool  # the client asked for stream_options.include_usage
    limits: StreamLimits = DEFAULT_LIMITS
    # A stream whose usage the proxy needs (a named key's reservation) but the client did
    # not ask for: passthrough adapters ask the upstream for it and drop it on the way out.
    usage_for_proxy: bool = False


class Usage(NamedTuple):
    """Token counts of one answer, for metrics and logs."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0


class Reply(NamedTuple):
    """A complete non-stream answer, already in OpenAI shape and serialized once."""

    body: bytes
    usage: Usage | None
    # The body as the adapter parsed or built it, where it had it: tracing reads the id and
    # finish reasons here instead of parsing the body again (proxy/tracing_span.py).
    answer: dict[str, Any] | None = None


class StreamTranslator(Protocol):
    """One per streamed request: provider SSE events in, OpenAI chunk dicts out.

    `feed` raises UpstreamError for an in-band provider error. `finish` is called when the
    upstream body ends; it raises UpstreamError(outcome="upstream_truncated") if the provider's
    terminal event never came, else returns the closing chunks (finish_reason, usage chunk
    when ctx.include_usage).
    """

    def feed(self, event: SSEEvent) -> list[OpenAIChunk]: ...

    def finish(self) -> list[OpenAIChunk]: ...

    @property
    def usage(self) -> Usage | None: ...


class StreamPipe(Protocol):
    """Upstream stream bytes in, client SSE bytes out (see providers/pipes.py).

    `feed` returns b"" while it has nothing to send yet; the first non-empty return is the
    stream's commit point. Errors surface as UpstreamError from feed or finish.
    """

    def feed(self, raw: bytes) -> bytes: ...

    def finish(self) -> bytes:
        """Closing bytes, ending with `data: [DONE]`; UpstreamError if truncated."""
        ...

    @property
    def usage(self) -> Usage | None: ...


class EmbeddingsCodec(Protocol):
    """How a provider family serves /v1/embeddings; errors go through Adapter.parse_error."""

    def build_embeddings(self, req: EmbeddingsRequest, ctx: CallContext) -> UpstreamRequest:
        """ProxyError (400 naming the field) for an input this provider cannot take."""
        ...

    def parse_embeddings(self, payload: bytes, req: EmbeddingsRequest, ctx: CallContext) -> Reply:
        """A 2xx upstream body -> OpenAI's embeddings list. Malformed -> UpstreamError."""
        ...


class Adapter(Protocol):
    """A provider family. `__init__(name, config)` precomputes URLs and headers at startup."""

    @property
    def embeddings(self) -> EmbeddingsCodec | None:
        """None for a family without an embeddings endpoint (a config naming it is refused)."""
        ...

    @property
    def messages(self) -> MessagesPassthrough | None:
        """The Anthropic Messages passthrough for a family that speaks it natively; None:
        /v1/messages is translated through Chat Completions (proxy/surfaces/messages)."""
        ...

    @property
    def responses(self) -> ResponsesPassthrough | None:
        """The OpenAI Responses passthrough for a family that speaks it natively; None:
        /v1/responses is translated through Chat Completions (proxy/surfaces/responses)."""
        ...

    def build_request(self, req: ChatRequest, ctx: CallContext) -> UpstreamRequest: ...

    def parse_response(self, payload: bytes, ctx: CallContext) -> Reply:
        """A 2xx upstream body -> the OpenAI response. Malformed -> UpstreamError."""
        ...

    def stream_pipe(self, ctx: CallContext) -> StreamPipe:
        """Translating adapters return `TranslatingPipe(TheirStreamTranslator(ctx), name)`."""
        ...

    def parse_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> UpstreamError:
        """A non-2xx upstream answer -> UpstreamError (via errors.upstream_status_error)."""
        ...


def load_upstream_json(payload: bytes, provider: str) -> Any:
    """A 2xx upstream body parsed as JSON; a body that is not JSON is a malformed reply."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise upstream_transport_error(
            provider, "malformed_response", "the response body is not JSON"
        ) from exc


class AdapterFactory(Protocol):
    def __call__(self, name: str, config: ProviderConfig) -> Adapter: ...


def encode_request(body: Any) -> bytes:
    """An upstream request body, serialized once. orjson.dumps refuses nesting deeper than
    254 levels while orjson.loads accepts 1024: a client body in between is a 400 naming the
    problem, never a 500."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:  # "Recursion limit reached"
        raise invalid_request(
            "The request body is nested too deeply: at most 254 levels are supported.",
            code="invalid_json",
        ) from exc
