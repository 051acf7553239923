"""POST /v1/responses as a raw ASGI handler (issue 14), and the 426 for its WebSocket mode.

The same path through the proxy as chat completions (chat.py) and /v1/messages: the edge's
admission, auth, the bounded body read, the router's fallback, breakers, retries and
deadlines, disconnect cancellation, drain, the stream's one owner (StreamCall) and the
request's account. What differs is said to the router per route (StreamWire, exchange's
build/parse): passthrough where the adapter has a `responses` codec (openai; azure's v1
surface), translation through Chat Completions and the route's own adapter elsewhere
(request.py, response.py, pipe.py). Errors are OpenAI-shaped before the commit and
`response.failed` after it (errors.py).

Server-side state (`previous_response_id`, `store: true`) lives only at OpenAI: such a
request may only go to passthrough deployments; the others are skipped as
`skipped_incompatible`, and a model with none answers the translation's 400 naming the field.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from proxy import metrics
from proxy.answer import answer_failures
from proxy.asgi import (
    JSON_TYPE,
    first_headers,
    read_json_body,
    send_error,
    send_whole,
)
from proxy.chat import DisconnectWatch
from proxy.config import Deployment
from proxy.errors import ProxyError, invalid_request
from proxy.ids import new_id
from proxy.providers.base import CallContext, Reply, StreamPipe, UpstreamRequest
from proxy.providers.openai_responses import ResponsesPassthroughPipe
from proxy.providers.pipes import DATA_SHAPE_ERRORS, malformed
from proxy.request import ChatRequest
from proxy.router import CompatibleFn, Route
from proxy.sse import encode_named_events
from proxy.streaming import StreamWire, served
from proxy.surfaces.responses.errors import response_error
from proxy.surfaces.responses.pipe import ResponsesStreamPipe
from proxy.surfaces.responses.request import TranslatedRequest, responses_to_chat
from proxy.surfaces.responses.response import chat_to_response
from proxy.surfaces.responses.stream import ResponsesStreamTranslator
from proxy.tenancy.gate import settle
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from proxy.state import Gateway

log = logging.getLogger("proxy")
RESPONSES_PATH = "/v1/responses"
_WANTED = frozenset({b"authorization", b"x-api-key", b"content-type", b"content-length"})
WEBSOCKET_REFUSAL = (
    "The Responses API WebSocket mode is not supported by this proxy: use HTTP, POST "
    "/v1/responses with stream: true (Codex CLI: set supports_websockets = false for this "
    "model provider)."
)


class ResponsesEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    refuse = staticmethod(send_error)  # the edge's refusals (overload, drain), OpenAI-shaped

    async def __call__(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        trace = RequestTrace(metrics.OTHER, stream=False)
        await answer_failures(
            self._serve(scope, receive, send, request_id, trace), send, trace, send_error
        )

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, trace: RequestTrace
    ) -> None:
        state = self.gateway.state
        assert state is not None  # set in the lifespan, before any request
        headers = first_headers(scope["headers"], _WANTED)
        who = state.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
        raw = await read_json_body(receive, headers, state.max_body_bytes)
        body, model, stream = parse_responses_request(raw)
        trace.model = state.model_label(model)
        trace.stream = stream
        created = int(time.time())
        ctx = CallContext(model, model, f"resp_{new_id()}", created, include_usage=True)
        router = state.router
        plan = _Plan(body, raw, ctx)
        if plan.stateful and any(
            state.routes[d.provider].adapter.responses for d in router.plan(model)
        ):
            plan.compatible = _passthrough_only
        bounded = self.gateway.lifecycle.bounded  # a drain ends the wait with a 503
        # Named keys (tenancy/gate.py): model access, limits and budget, as on every surface.
        reservation = None
        if state.auth.policy is not None:
            reservation = await state.gate.enter(who, model, len(raw), body, trace)
        try:
            with DisconnectWatch(receive, asyncio.get_running_loop()) as watch:
                if stream:
                    wire = StreamWire(plan.build, plan.pipe, None, plan.fail)
                    call = router.open_stream_with(
                        model, ctx, request_id, trace, wire, plan.compatible
                    )
                    opened = await bounded(call)
                    idle = state.config.server.client_idle_timeout
                    await opened.serve(send, self.gateway.lifecycle, watch.stop, idle)
                    return
                exchange = router.exchange(
                    model,
                    "chat",
                    ctx,
                    request_id,
                    trace,
                    plan.build,
                    plan.parse,
                    None,
                    plan.compatible,
                )
                reply = await bounded(exchange)
                trace.usage = reply.usage
                watch.stop()
                await send_whole(
                    send, 200, reply.body, [(b"content-type", JSON_TYPE), *served(trace)]
                )
            trace.finish(200)
        finally:  # every exit: answered, failed, cancelled, disconnected
            if reservation is not None:
                await settle(reservation, trace)


def parse_responses_request(raw: bytes) -> tuple[dict[str, Any], str, bool]:
    """(body, model, stream): only what routing needs; the rest is the upstream's to judge
    on passthrough and request.py's on translation."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(
            f"The request body is not valid JSON: {str(exc)[:120]}", code="invalid_json"
        ) from exc
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request(
            "Missing required parameter: 'model'.", "model", "missing_required_parameter"
        )
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise invalid_request("Invalid type for 'stream': expected a boolean.", "stream")
    return body, model, stream is True


class _Plan:
    """How this request goes to each route: passthrough or translated (built once, lazily)."""

    def __init__(self, body: dict[str, Any], raw: bytes, ctx: CallContext) -> None:
        self.body = body
        self.raw = raw
        self._ctx = ctx
        self._translated: TranslatedRequest | None = None
        self._chat: ChatRequest | None = None
        self._pipe: ResponsesStreamPipe | ResponsesPassthroughPipe | None = None
        self.stateful = body.get("previous_response_id") is not None or body.get("store") is True
        self.compatible: CompatibleFn | None = None

    def translated(self) -> tuple[TranslatedRequest, ChatRequest]:
        if self._translated is None or self._chat is None:
            ctx = self._ctx
            self._translated = responses_to_chat(self.body, ctx.response_id, ctx.created)
            chat = self._translated.chat
            self._chat = ChatRequest(chat, b"", ctx.public_model, self._translated.stream, True)
        return self._translated, self._chat

    def build(self, route: Route, call: CallContext) -> UpstreamRequest:
        codec = route.adapter.responses
        if codec is not None:
            return codec.build(self.body, self.raw, call.upstream_model)
        return route.adapter.build_request(self.translated()[1], call)

    def parse(self, route: Route, body: bytes, call: CallContext) -> Reply:
        codec = route.adapter.responses
        if codec is not None:
            return codec.parse(body)
        reply = route.adapter.parse_response(body, call)
        try:
            completion = orjson.loads(reply.body)
        except DATA_SHAPE_ERRORS as exc:
            raise malformed(route.name, exc) from exc
        response = chat_to_response(completion, self.translated()[0].context, route.name)
        return Reply(orjson.dumps(response), reply.usage)

    def pipe(self, route: Route, call: CallContext) -> StreamPipe:
        codec = route.adapter.responses
        pipe: ResponsesStreamPipe | ResponsesPassthroughPipe
        if codec is not None:
            pipe = codec.stream_pipe(call)
        else:
            translator = ResponsesStreamTranslator(self.translated()[0].context, route.name)
            pipe = ResponsesStreamPipe(route.adapter.stream_pipe(call), translator)
        self._pipe = pipe  # the last attempt's: the one a committed stream runs on
        return pipe

    def fail(self, error: ProxyError) -> bytes:
        """The in-band end of a committed stream: `response.failed` (errors.py)."""
        pipe = self._pipe
        if isinstance(pipe, ResponsesStreamPipe):
            return pipe.fail(error)
        announced = pipe.announced if pipe is not None else {}
        sequence = pipe.next_sequence if pipe is not None else 0
        response = {**announced, "status": "failed", "error": response_error(error)}
        event = {"type": "response.failed", "sequence_number": sequence, "response": response}
        return encode_named_events([event])


def _passthrough_only(route: Route, deployment: Deployment, first: Deployment | None) -> bool:
    return route.adapter.responses is not None


async def websocket_refused(request: Request) -> Response:
    """GET /v1/responses (the Responses WebSocket mode's upgrade, when the server does not
    speak WebSocket): 426, OpenAI-shaped."""
    return _refusal()


async def websocket_denied(websocket: WebSocket) -> None:
    """The same upgrade when the server speaks WebSocket: denied with the same 426 (ASGI
    denial response); a server without that extension closes with policy violation."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(_refusal())
    else:
        await websocket.close(1008, WEBSOCKET_REFUSAL[:120])


def _refusal() -> Response:
    error = {
        "message": WEBSOCKET_REFUSAL,
        "type": "invalid_request_error",
        "param": None,
        "code": "websocket_not_supported",
    }
    # Connection: close: the connection asked to change protocols; it is not reused.
    return Response(
        orjson.dumps({"error": error}),
        status_code=426,
        media_type="application/json",
        headers={"connection": "close"},
    )
