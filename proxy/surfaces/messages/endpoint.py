"""POST /v1/messages and /v1/messages/count_tokens as raw ASGI handlers.

The same path through the proxy as chat completions (chat.py): the edge's admission, auth,
the bounded body read, the router's fallback, breakers, retries and deadlines, disconnect
cancellation, the stream's one owner (StreamCall) and the request's account. What differs
is said to the router per route: passthrough (the adapter has a `messages` codec) or
translation through the route's own Chat Completions adapter; errors in Anthropic's shape.

Fallback with thinking signatures: a signature is bound to the model that wrote it, so a
conversation carrying one falls back only to deployments of the same provider type and
model family as the first one tried (`same_family`); the others are skipped as
`skipped_incompatible`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from typing import TYPE_CHECKING

import orjson
from starlette.types import Receive, Scope, Send

from proxy import metrics
from proxy.answer import answer_failures
from proxy.asgi import (
    JSON_TYPE,
    first_headers,
    read_json_body,
    send_whole,
)
from proxy.chat import DisconnectWatch
from proxy.config import Config, Deployment
from proxy.errors import UpstreamError
from proxy.ids import new_id
from proxy.providers.base import CallContext, Reply, StreamPipe, UpstreamRequest
from proxy.providers.pipes import DATA_SHAPE_ERRORS, malformed
from proxy.request import ChatRequest
from proxy.router import CompatibleFn, Route
from proxy.streaming import StreamWire, served
from proxy.surfaces.messages.errors import error_event, send_anthropic_error, verbatim
from proxy.surfaces.messages.from_chat import to_message
from proxy.surfaces.messages.request import MessagesRequest, parse_messages_request
from proxy.surfaces.messages.stream import ChatToMessages, MessagesStreamPipe
from proxy.surfaces.messages.to_chat import to_chat_request
from proxy.tenancy.gate import settle
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from collections.abc import Mapping

    from proxy.state import Gateway

log = logging.getLogger("proxy")
MESSAGES_PATH = "/v1/messages"
COUNT_PATH = "/v1/messages/count_tokens"
_WANTED = frozenset(
    {
        b"authorization",
        b"x-api-key",
        b"content-type",
        b"content-length",
        b"anthropic-version",
        b"anthropic-beta",
    }
)
# A dated snapshot suffix (claude-sonnet-4-5-20250929, ...@20250929) names the same family.
_SNAPSHOT = re.compile(r"[-@]\d{8}$")
# count_tokens without an anthropic deployment: about four bytes of JSON per token.
ESTIMATE_BYTES_PER_TOKEN = 4


class MessagesEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    refuse = staticmethod(send_anthropic_error)  # the edge's refusals, in this surface's shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        count = scope["path"].endswith("/count_tokens")
        trace = RequestTrace(metrics.OTHER, stream=False)
        await answer_failures(
            self._serve(scope, receive, send, request_id, trace, count),
            send,
            trace,
            send_anthropic_error,
        )

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        trace: RequestTrace,
        count: bool,
    ) -> None:
        state = self.gateway.state
        assert state is not None  # set in the lifespan, before any request
        headers = first_headers(scope["headers"], _WANTED)
        who = state.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
        raw = await read_json_body(receive, headers, state.max_body_bytes)
        req = parse_messages_request(raw, count_only=count)
        trace.model = state.model_label(req.model)
        trace.stream = req.stream
        forwarded = {k.decode(): v for k, v in headers.items() if k.startswith(b"anthropic-")}
        plan = _Plan(req, forwarded, state.config)
        ctx = CallContext(
            public_model=req.model,
            upstream_model=req.model,
            response_id=f"msg_{new_id()}",
            created=int(time.time()),
            include_usage=True,  # message_delta carries usage: always ask for it
        )
        router = state.router
        bounded = self.gateway.lifecycle.bounded  # a drain ends the wait with a 503
        # Named keys (tenancy/gate.py): model access, limits and budget, as on every surface.
        reservation = None
        if state.auth.policy is not None:
            out = None if count else req.body  # count_tokens produces no output tokens
            reservation = await state.gate.enter(who, req.model, len(raw), out, trace)
        try:
            with DisconnectWatch(receive, asyncio.get_running_loop()) as watch:
                if count:
                    body = await self._count(plan, ctx, request_id, trace, state.routes)
                elif req.stream:
                    wire = StreamWire(plan.build, plan.pipe, plan.parse_error, error_event)
                    stream = await bounded(
                        router.open_stream_with(
                            req.model, ctx, request_id, trace, wire, plan.compatible
                        )
                    )
                    idle = state.config.server.client_idle_timeout
                    await stream.serve(send, self.gateway.lifecycle, watch.stop, idle)
                    return
                else:
                    reply = await bounded(
                        router.exchange(
                            req.model,
                            "chat",
                            ctx,
                            request_id,
                            trace,
                            plan.build,
                            plan.parse,
                            plan.parse_error,
                            plan.compatible,
                        )
                    )
                    trace.usage, body = reply.usage, reply.body
                watch.stop()
                await send_whole(send, 200, body, [(b"content-type", JSON_TYPE), *served(trace)])
            trace.finish(200)
        finally:  # every exit: answered, failed, cancelled, disconnected
            if reservation is not None:
                await settle(reservation, trace)

    async def _count(
        self,
        plan: _Plan,
        ctx: CallContext,
        request_id: str,
        trace: RequestTrace,
        routes: Mapping[str, Route],
    ) -> bytes:
        """Passthrough to the first usable anthropic deployment; for a model with none, an
        estimate from the request's size (documented in the README) rather than a 404."""
        state = self.gateway.state
        assert state is not None
        deployments = state.router.plan(plan.req.model)
        if not any(routes[d.provider].adapter.messages for d in deployments):
            tokens = math.ceil(len(plan.req.raw) / ESTIMATE_BYTES_PER_TOKEN)
            return orjson.dumps({"input_tokens": tokens})

        def native(route: Route, deployment: Deployment, first: Deployment | None) -> bool:
            return route.adapter.messages is not None

        def parse(route: Route, body: bytes, call: CallContext) -> Reply:
            return Reply(body, None)

        reply = await state.router.exchange(
            plan.req.model,
            "chat",
            ctx,
            request_id,
            trace,
            plan.build_count,
            parse,
            plan.parse_error,
            native,
        )
        return reply.body


class _Plan:
    """How this request goes to each route: passthrough or translated (built once, lazily)."""

    def __init__(self, req: MessagesRequest, headers: dict[str, str], config: Config) -> None:
        self.req = req
        self._headers = headers
        self._config = config
        self._chat: ChatRequest | None = None
        self.compatible: CompatibleFn | None = self._same_family if req.signed else None

    def chat(self) -> ChatRequest:
        if self._chat is None:
            body = to_chat_request(self.req.body)
            self._chat = ChatRequest(body, b"", self.req.model, self.req.stream, True)
        return self._chat

    def build(self, route: Route, call: CallContext) -> UpstreamRequest:
        codec = route.adapter.messages
        if codec is not None:
            return codec.build(self.req.body, self.req.raw, self._headers, call.upstream_model)
        return route.adapter.build_request(self.chat(), call)

    def build_count(self, route: Route, call: CallContext) -> UpstreamRequest:
        codec = route.adapter.messages
        assert codec is not None  # count_tokens tries only native routes
        return codec.count_tokens(self.req.body, self.req.raw, self._headers, call.upstream_model)

    def parse(self, route: Route, body: bytes, call: CallContext) -> Reply:
        codec = route.adapter.messages
        if codec is not None:
            return codec.parse(body)
        reply = route.adapter.parse_response(body, call)
        try:
            message = to_message(orjson.loads(reply.body), call.response_id, call.public_model)
        except DATA_SHAPE_ERRORS as exc:
            raise malformed(route.name, exc) from exc
        return Reply(orjson.dumps(message), reply.usage)

    def parse_error(
        self, route: Route, status: int, headers: Mapping[str, str], body: bytes
    ) -> UpstreamError:
        error = route.adapter.parse_error(status, headers, body)
        if route.adapter.messages is not None:
            return verbatim(error, status, body)  # Anthropic's own words, unmodified
        return error

    def pipe(self, route: Route, call: CallContext) -> StreamPipe:
        codec = route.adapter.messages
        if codec is not None:
            return codec.stream_pipe(call)
        translator = ChatToMessages(call.response_id, call.public_model)
        return MessagesStreamPipe(route.adapter.stream_pipe(call), translator)

    def _same_family(self, route: Route, deployment: Deployment, first: Deployment | None) -> bool:
        if first is None:
            return True
        providers = self._config.providers
        same_type = providers[deployment.provider].type == providers[first.provider].type
        return same_type and family(deployment.model) == family(first.model)


def family(model: str) -> str:
    """A model's family: its name without a dated snapshot suffix."""
    return _SNAPSHOT.sub("", model)
