"""The front door: the outermost ASGI app, one pure-ASGI layer for every request.

In order: the request id (a sane client `x-request-id` is echoed, else one is made; it goes
on the response and on every log line); the admin-port gate; admission for API paths (the
in-flight limit and the drain refusal); then dispatch: the raw surfaces (`POST
/v1/chat/completions` to chat.py, `POST /v1/messages[/count_tokens]` to
surfaces/messages, `POST /v1/responses` to surfaces/responses) straight to their handlers, everything else (and the lifespan) to the
Starlette app. A refusal on a surface's path is sent in that surface's error shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy import metrics
from proxy.asgi import send_error
from proxy.errors import ProxyError, overloaded, shutting_down
from proxy.ids import new_id
from proxy.lifecycle import Lifecycle
from proxy.logs import REQUEST_ID

CHAT_PATH = "/v1/chat/completions"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RawSurface(Protocol):
    """A POST endpoint served at the edge, without Starlette (chat.py, surfaces/)."""

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> None: ...

    async def refuse(self, send: Send, error: ProxyError) -> None:
        """Send an error the edge decided on (overload, drain) in the surface's shape."""
        ...


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        surfaces: Mapping[str, RawSurface],
        lifecycle: Lifecycle,
        admin_port: int | None,
    ) -> None:
        self.app = app
        self.surfaces = surfaces  # POST path -> its raw handler
        self.lifecycle = lifecycle
        self.admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.admin_port is not None:
            scope = self._gate(scope)
        request_id = _request_id(scope["headers"])
        token = REQUEST_ID.set(request_id)
        send = _with_id(send, request_id)
        try:
            if scope["path"].startswith("/v1/"):
                await self._admit(scope, receive, send, request_id)
            else:
                await self.app(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)

    async def _admit(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        """Count API requests in flight; refuse beyond the limit or while draining, in
        microseconds and without touching an upstream (health and metrics are exempt)."""
        life = self.lifecycle
        surface = self.surfaces.get(scope["path"]) if scope["method"] == "POST" else None
        if life.draining or life.in_flight >= life.max_in_flight:
            metrics.observe_rejected("draining" if life.draining else "overload")
            refusal = shutting_down() if life.draining else overloaded()
            await (surface.refuse(send, refusal) if surface else send_error(send, refusal))
            return
        life.in_flight += 1
        metrics.IN_FLIGHT.inc()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                life.in_flight -= 1
                metrics.IN_FLIGHT.dec()

        async def send_and_release(message: Message) -> None:
            await send(message)
            # The slot frees with the response's last byte, not when the handler unwinds:
            # a client that got its whole answer may send the next request at once.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                release()

        try:
            if surface is not None:
                await surface(scope, receive, send_and_release, request_id)
            else:
                await self.app(scope, receive, send_and_release)
        finally:
            release()

    def _gate(self, scope: Scope) -> Scope:
        """With `admin.port` set, /metrics and /admin/* answer only on that port, and only
        they (and health) do: the API port never exposes operations, the admin port never
        the API."""
        server = scope.get("server")
        on_admin = server is not None and server[1] == self.admin_port
        path: str = scope["path"]
        is_admin_path = path == "/metrics" or path.startswith("/admin/")
        if on_admin != is_admin_path and not path.startswith("/health"):
            return {**scope, "path": "/__not_here__"}  # the router's 404, OpenAI-shaped
        return scope


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_ID.fullmatch(text) else new_id()
    return new_id()


def _with_id(send: Send, request_id: str) -> Send:
    header = (b"x-request-id", request_id.encode())

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
        await send(message)

    return send_with_id
