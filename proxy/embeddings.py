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
import re
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from proxy import metrics
from proxy.asgi import (
    JSON_TYPE,
    ClientDisconnected,
    first_headers,
    read_body,
    send_error,
    send_whole,
)
from proxy.chat import DisconnectWatch
from proxy.embeddings_request import parse_embeddings_request
from proxy.errors import ProxyError, internal_error, unsupported_media_type
from proxy.ids import new_id
from proxy.logs import REQUEST_ID
from proxy.providers.base import CallContext, EmbeddingsCodec, Reply, UpstreamRequest
from proxy.router import Route
from proxy.streaming import served
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from proxy.state import Gateway

log = logging.getLogger("proxy")
_WANTED = frozenset({b"authorization", b"x-api-key", b"content-type", b"content-length"})
_JSON_CONTENT = re.compile(r"^\s*application/([\w.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)


class EmbeddingsEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        trace = RequestTrace(metrics.OTHER, stream=False)
        try:
            await self._serve(scope, receive, send, trace)
        except ProxyError as error:
            trace.outcome = getattr(error, "outcome", None) or error.code or error.type
            await send_error(send, error)
            trace.finish(error.status)
        except ClientDisconnected:
            trace.outcome, trace.client_disconnected = "client_disconnect", True
            trace.finish(499)
        except Exception as exc:
            log.exception("unhandled error", exc_info=exc)
            await send_error(send, internal_error())
            trace.finish(500)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, trace: RequestTrace) -> None:
        state = self.gateway.state
        assert state is not None  # set in the lifespan, before any request
        headers = first_headers(scope["headers"], _WANTED)
        state.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
        content_type = headers.get(b"content-type")
        if content_type is not None and not _JSON_CONTENT.match(content_type):
            raise unsupported_media_type(content_type)
        raw = await read_body(receive, state.max_body_bytes, headers.get(b"content-length"))
        req = parse_embeddings_request(raw)
        trace.model = state.model_label(req.model)
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
