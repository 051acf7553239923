"""build_app(config) -> the Starlette app: routes, middleware order, lifespan.

Everything that can be computed before the first request is computed here: adapters with
their URLs and headers, one connection pool per provider (opened in the lifespan), routing
plans, the /v1/models body.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route as HttpRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy import endpoints
from proxy.auth import Authenticator
from proxy.breakers import ProviderHealth
from proxy.config import Config
from proxy.errors import ProxyError
from proxy.lifecycle import AdmissionMiddleware, Lifecycle, signals_drain
from proxy.mock_upstream import MockUpstreamTransport
from proxy.providers import build_adapter
from proxy.providers.base import Adapter
from proxy.router import Route, Router
from proxy.upstream import TransportFactory, Upstream, aiohttp_transport

log = logging.getLogger("proxy")


@dataclass
class AppState:
    auth: Authenticator
    router: Router
    models_body: bytes
    max_body_bytes: int
    lifecycle: Lifecycle


def build_adapters(config: Config) -> dict[str, Adapter]:
    """Adapters for the enabled providers; raises ConfigError on bad provider options."""
    return {
        name: build_adapter(provider)
        for name, provider in config.providers.items()
        if provider.enabled
    }


def build_app(config: Config, transport_factory: TransportFactory = aiohttp_transport) -> Starlette:
    adapters = build_adapters(config)
    auth = Authenticator(config.auth.api_keys, config.auth.disabled)
    public = [m for m in config.models if config.enabled_deployments(m)]
    models_body = endpoints.models_body(public, int(time.time()))
    lifecycle = Lifecycle(config.server.max_in_flight, config.server.drain_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        routes: dict[str, Route] = {}
        for name, adapter in adapters.items():
            provider = config.providers[name]
            in_process = getattr(adapter, "in_process", False)
            transport = (
                MockUpstreamTransport(provider) if in_process else transport_factory(provider)
            )
            health = ProviderHealth(name, provider.breaker, max_cooldown=config.server.max_cooldown)
            upstream = Upstream(provider, transport)
            routes[name] = Route(
                adapter, upstream, health, provider.retries, provider.retry_backoff
            )
        router = Router(config, routes)
        app.state.proxy = AppState(
            auth, router, models_body, config.server.max_body_bytes, lifecycle
        )
        try:
            with signals_drain(lifecycle):
                yield
        finally:
            for route in routes.values():
                await route.upstream.aclose()

    app = Starlette(
        routes=[
            HttpRoute("/v1/chat/completions", endpoints.chat_completions, methods=["POST"]),
            HttpRoute("/v1/models", endpoints.list_models, methods=["GET"]),
            HttpRoute("/health", endpoints.health, methods=["GET"]),
            HttpRoute("/health/live", endpoints.health, methods=["GET"]),
            HttpRoute("/health/ready", endpoints.ready, methods=["GET"]),
            HttpRoute("/metrics", endpoints.metrics, methods=["GET"]),
        ],
        exception_handlers={
            ProxyError: endpoints.on_proxy_error,
            endpoints.ClientDisconnected: endpoints.on_client_disconnected,
            HTTPException: endpoints.on_http_exception,
            Exception: endpoints.on_unexpected,
        },
        lifespan=lifespan,
    )
    app.add_middleware(AdmissionMiddleware, lifecycle=lifecycle)
    app.add_middleware(RequestIdMiddleware)
    app.state.lifecycle = lifecycle
    return app


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
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
