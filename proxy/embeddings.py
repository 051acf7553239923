"""POST /v1/embeddings as a raw ASGI app: authenticate, validate, route, answer.

The same path through the proxy as a non-stream chat completion (chat.py): the edge's
admission and in-flight slot, the routing table (a `kind: embeddings` model), the router's
fallback, breakers, retries and deadlines (Router.exchange), disconnect cancellation, and
the request's account (metrics with model/provider labels, one access-log line). Only what
the adapter sends and reads differs: its `embeddings` codec.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

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
from proxy.embeddings_request import EmbeddingsRequest, parse_embeddings_request
from proxy.ids import new_id
from proxy.logs import REQUEST_ID
from proxy.providers.base import CallContext, EmbeddingsCodec, Reply, UpstreamRequest
from proxy.router import Route
from proxy.streaming import served
from proxy.tenancy.gate import settle
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from proxy.state import AppState, Gateway

log = logging.getLogger("proxy")
_WANTED = frozenset({b"authorization", b"x-api-key", b"content-type", b"content-length"})


class EmbeddingsEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        trace = RequestTrace(metrics.OTHER, stream=False)
        await answer_failures(self._serve(scope, receive, send, trace), send, trace, send_error)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, trace: RequestTrace) -> None:
        state = self.gateway.state
        assert state is not None  # set in the lifespan, before any request
        headers = first_headers(scope["headers"], _WANTED)
        who = state.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
        raw = await read_json_body(receive, headers, state.max_body_bytes)
        req = parse_embeddings_request(raw)
        trace.model = state.model_label(req.model)
        reservation = None
        if state.auth.policy is not None:  # named keys (tenancy/gate.py); no output tokens
            reservation = await state.gate.enter(who, req.model, len(raw), None, trace)
        try:
            await self._answer(state, req, receive, send, trace)
        finally:  # every exit: answered, failed, cancelled, disconnected
            if reservation is not None:
                await settle(reservation, trace)

    async def _answer(
        self,
        state: AppState,
        req: EmbeddingsRequest,
        receive: Receive,
        send: Send,
        trace: RequestTrace,
    ) -> None:
        ctx = CallContext(
            public_model=req.model,
            upstream_model=req.model,
            response_id=f"embd-{new_id()}",  # unused: embeddings answers carry no id
            created=0,
            include_usage=False,
        )
        request_id = REQUEST_ID.get() or new_id()

        def build(route: Route, call: CallContext) -> UpstreamRequest:
            return _codec(route).build_embeddings(req, call)

        def parse(route: Route, body: bytes, call: CallContext) -> Reply:
            return _codec(route).parse_embeddings(body, req, call)

        with DisconnectWatch(receive, asyncio.get_running_loop()) as watch:
            reply = await self.gateway.lifecycle.bounded(  # a drain ends the wait with a 503
                state.router.exchange(req.model, "embeddings", ctx, request_id, trace, build, parse)
            )
            trace.usage = reply.usage
            # Sent inside the watch, as in chat.py: a disconnect seen before stop() is a
            # ClientDisconnected here, never a stray cancellation after the block.
            watch.stop()
            await send_whole(send, 200, reply.body, [(b"content-type", JSON_TYPE), *served(trace)])
        trace.finish(200)


def _codec(route: Route) -> EmbeddingsCodec:
    codec = route.adapter.embeddings
    # Startup refuses an embeddings model on a provider without one (check_embedding_models).
    assert codec is not None, route.name
    return codec
