"""build_app(config) -> the Starlette app: routes, middleware order, lifespan.

Everything that can be computed before the first request is computed at startup (see
state.py): adapters with their URLs and headers, one connection pool per provider, routing
plans, the /v1/models body.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route as HttpRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy import endpoints
from proxy.config import Config
from proxy.errors import ProxyError
from proxy.ids import new_id
from proxy.lifecycle import AdmissionMiddleware, Lifecycle, signal_handlers
from proxy.logs import REQUEST_ID, flush_logs
from proxy.state import Gateway
from proxy.upstream import TransportFactory, aiohttp_transport


def build_app(
    config: Config,
    transport_factory: TransportFactory = aiohttp_transport,
    load: Callable[[], Config] | None = None,
) -> Starlette:
    """`load` re-reads the config for reloads; without it reloads are refused."""
    lifecycle = Lifecycle(config.server.max_in_flight, config.server.drain_timeout)
    gateway = Gateway(config, transport_factory, lifecycle, load)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway.start()
        try:
            with signal_handlers(lifecycle, gateway.reload):
                yield
        finally:
            await gateway.aclose()
            flush_logs()

    app = Starlette(
        routes=[
            HttpRoute("/v1/chat/completions", endpoints.chat_completions, methods=["POST"]),
            HttpRoute("/v1/models", endpoints.list_models, methods=["GET"]),
            HttpRoute("/health", endpoints.health, methods=["GET"]),
            HttpRoute("/health/live", endpoints.health, methods=["GET"]),
            HttpRoute("/health/ready", endpoints.ready, methods=["GET"]),
            HttpRoute("/metrics", endpoints.prometheus, methods=["GET"]),
            HttpRoute("/admin/reload", endpoints.admin_reload, methods=["POST"]),
        ],
        exception_handlers={
            ProxyError: endpoints.on_proxy_error,
            endpoints.ClientDisconnected: endpoints.on_client_disconnected,
            HTTPException: endpoints.on_http_exception,
            Exception: endpoints.on_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.add_middleware(AdmissionMiddleware, lifecycle=lifecycle)
    if config.admin.port is not None:
        app.add_middleware(AdminPortGate, admin_port=config.admin.port)
    app.add_middleware(RequestIdMiddleware)
    return app


class AdminPortGate:
    """With `admin.port` set, /metrics and /admin/* answer only on that port, and only they
    (and health) do: the API port never exposes operations, the admin port never the API."""

    def __init__(self, app: ASGIApp, admin_port: int) -> None:
        self.app = app
        self.admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server")
            on_admin = server is not None and server[1] == self.admin_port
            path: str = scope["path"]
            is_admin_path = path == "/metrics" or path.startswith("/admin/")
            if on_admin != is_admin_path and not path.startswith("/health"):
                scope = {**scope, "path": "/__not_here__"}  # the router's 404, OpenAI-shaped
        await self.app(scope, receive, send)


_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Echo a sane client `x-request-id`, or make one; it goes on the response and logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                text = value.decode("latin-1")
                if _SAFE_ID.fullmatch(text):
                    request_id = text
                break
        request_id = request_id or new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
