"""build_app(config) -> the ASGI app: the front door (edge.py) before the Starlette app that
serves everything but chat completions, and the lifespan.

Everything that can be computed before the first request is computed at startup (see
state.py): adapters with their URLs and headers, one connection pool per provider, routing
plans, the /v1/models body.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route as HttpRoute
from starlette.routing import WebSocketRoute

from proxy import endpoints
from proxy.cache.admin import admin_cache
from proxy.chat import ChatEndpoint
from proxy.config import Config
from proxy.edge import CHAT_PATH, Edge, RawSurface
from proxy.embeddings import EmbeddingsEndpoint
from proxy.errors import ProxyError
from proxy.http_limits import STATE_KEY, HttpGuard, HttpLimits
from proxy.lifecycle import Lifecycle, signal_handlers
from proxy.logs import flush_logs
from proxy.state import Gateway
from proxy.surfaces.messages.endpoint import COUNT_PATH, MESSAGES_PATH, MessagesEndpoint
from proxy.surfaces.responses.endpoint import (
    RESPONSES_PATH,
    ResponsesEndpoint,
    websocket_denied,
    websocket_refused,
)
from proxy.upstream import TransportFactory, aiohttp_transport


def build_app(
    config: Config,
    transport_factory: TransportFactory = aiohttp_transport,
    load: Callable[[], Config] | None = None,
    manage_heap: bool = False,
) -> Edge:
    """`load` re-reads the config for reloads; without it reloads are refused.
    `manage_heap`: the app is its process's server (not a test's), so it may tune the
    process's garbage collector (heap.py)."""
    lifecycle = Lifecycle(config.server.max_in_flight, config.server.drain_timeout)
    gateway = Gateway(config, transport_factory, lifecycle, load, manage_heap)
    guard = HttpGuard(HttpLimits.from_server(config.server))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        gateway.start()
        try:
            with signal_handlers(lifecycle, gateway.reload):
                # The lifespan state reaches the HTTP protocol (http_protocol.py) as its
                # app_state: the connection bounds of this app, read once per connection.
                yield {STATE_KEY: guard}
        finally:
            await gateway.aclose()
            flush_logs()

    app = Starlette(
        routes=[
            # POST is served by the edge (chat.py); this route answers other methods' 405.
            HttpRoute("/v1/chat/completions", endpoints.served_at_edge, methods=["POST"]),
            HttpRoute(MESSAGES_PATH, endpoints.served_at_edge, methods=["POST"]),
            HttpRoute(COUNT_PATH, endpoints.served_at_edge, methods=["POST"]),
            HttpRoute(RESPONSES_PATH, endpoints.served_at_edge, methods=["POST"]),
            # GET is the Responses WebSocket mode's upgrade: refused, so clients use HTTP.
            HttpRoute(RESPONSES_PATH, websocket_refused, methods=["GET"]),
            WebSocketRoute(RESPONSES_PATH, websocket_denied),
            HttpRoute("/v1/embeddings", EmbeddingsEndpoint(gateway), methods=["POST"]),
            HttpRoute("/v1/models", endpoints.list_models, methods=["GET"]),
            HttpRoute("/v1/models/{model:path}", endpoints.retrieve_model, methods=["GET"]),
            HttpRoute("/health", endpoints.health, methods=["GET"]),
            HttpRoute("/health/live", endpoints.health, methods=["GET"]),
            HttpRoute("/health/ready", endpoints.ready, methods=["GET"]),
            HttpRoute("/metrics", endpoints.prometheus, methods=["GET"]),
            HttpRoute("/admin/reload", endpoints.admin_reload, methods=["POST"]),
            HttpRoute("/admin/status", endpoints.admin_status, methods=["GET"]),
            HttpRoute("/admin/cache", admin_cache, methods=["GET", "DELETE"]),
            HttpRoute("/admin/keys", endpoints.admin_keys, methods=["GET"]),
        ],
        exception_handlers={
            ProxyError: endpoints.on_proxy_error,
            HTTPException: endpoints.on_http_exception,
            Exception: endpoints.on_unexpected,
        },
        lifespan=lifespan,
    )
    # Starlette answers `/v1/models/` with a redirect built from the request's Host header:
    # a forged Host would be reflected to the client. No route here wants a trailing slash.
    app.router.redirect_slashes = False
    app.state.gateway = gateway
    messages = MessagesEndpoint(gateway)
    surfaces: dict[str, RawSurface] = {
        CHAT_PATH: ChatEndpoint(gateway),
        MESSAGES_PATH: messages,
        COUNT_PATH: messages,
        RESPONSES_PATH: ResponsesEndpoint(gateway),
    }
    return Edge(app, surfaces, lifecycle, config.admin.port)
