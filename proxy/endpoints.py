"""Thin HTTP handlers: the only module that touches Starlette requests and responses."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from proxy import metrics
from proxy.errors import (
    ProxyError,
    body_too_large,
    internal_error,
    method_not_allowed,
    not_found,
    unsupported_media_type,
)
from proxy.ids import new_id
from proxy.request import parse_chat_request
from proxy.router import new_context
from proxy.streaming import SSE_HEADERS, pump
from proxy.trace import RequestTrace

if TYPE_CHECKING:
    from proxy.lifecycle import Lifecycle
    from proxy.state import AppState, Gateway

T = TypeVar("T")
log = logging.getLogger("proxy")
JSON = "application/json"
_JSON_TYPE = re.compile(r"^\s*application/([\w.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def _state(request: Request) -> AppState:
    state = _gateway(request).state
    assert state is not None  # set in the lifespan, before any request
    return state


def _lifecycle(request: Request) -> Lifecycle:
    return _gateway(request).lifecycle


def request_id_of(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id") or new_id()


async def chat_completions(request: Request) -> Response:
    state = _state(request)
    trace = RequestTrace(metrics.OTHER, stream=False)
    try:
        return await _chat(request, state, trace)
    except ProxyError as error:
        trace.outcome = getattr(error, "outcome", None) or error.code or error.type
        trace.finish(error.status)
        raise
    except ClientDisconnected:
        trace.outcome, trace.client_disconnected = "client_disconnect", True
        trace.finish(499)
        raise


async def _chat(request: Request, state: AppState, trace: RequestTrace) -> Response:
    headers = request.headers
    state.auth.check(headers.get("authorization"), headers.get("x-api-key"))
    content_type = headers.get("content-type")
    if content_type is not None and not _JSON_TYPE.match(content_type):
        raise unsupported_media_type(content_type)
    raw = await _read_body(request, state.max_body_bytes)
    req = parse_chat_request(raw)
    trace.model = state.model_label(req.model)
    trace.stream = req.stream
    request_id = request_id_of(request)
    ctx = new_context(req, f"chatcmpl-{new_id()}")
    router = state.router
    if req.stream:
        stream = await cancel_on_disconnect(
            request, router.open_stream(req, ctx, request_id, trace)
        )
        return StreamingResponse(
            pump(stream, _lifecycle(request)),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **_served_headers(trace)},
        )
    reply = await cancel_on_disconnect(request, router.complete(req, ctx, request_id, trace))
    trace.usage = reply.usage
    trace.finish(200)
    return Response(reply.body, media_type=JSON, headers=_served_headers(trace))


class ClientDisconnected(Exception):
    """The client went away while we waited on an upstream; nobody is left to answer."""


# Watching for a disconnect costs a task per request; a request answered within this time
# does not need one, and a slower one is still cancelled well within a second.
WATCH_AFTER = 0.05


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it (and so the upstream request) if the client disconnects.

    Starlette does not cancel a plain handler when its client goes away, so without this a
    disconnected client would keep the upstream call (and its bill) running."""
    handler = asyncio.current_task()
    assert handler is not None
    loop = asyncio.get_running_loop()
    watchers: list[asyncio.Task[bool]] = []

    def watch() -> None:
        watchers.append(loop.create_task(_cancel_when_disconnected(request, handler)))

    timer = loop.call_later(WATCH_AFTER, watch)
    try:
        return await work
    except asyncio.CancelledError:
        watcher = watchers[0] if watchers else None
        if watcher is None or not watcher.done() or watcher.cancelled() or not watcher.result():
            raise
        handler.uncancel()
        raise ClientDisconnected from None
    finally:
        timer.cancel()
        for watcher in watchers:
            watcher.cancel()


async def _cancel_when_disconnected(request: Request, handler: asyncio.Task[object]) -> bool:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            handler.cancel()
            return True


async def list_models(request: Request) -> Response:
    state = _state(request)
    state.auth.check(request.headers.get("authorization"), request.headers.get("x-api-key"))
    return Response(state.models_body, media_type=JSON)


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


async def ready(request: Request) -> Response:
    """503 while draining, or while every deployment of every model is unavailable."""
    state = _state(request)
    if _lifecycle(request).draining:
        return Response(b'{"status":"draining"}', status_code=503, media_type=JSON)
    unavailable = state.router.unavailable_providers()
    if unavailable is not None:
        body = {"status": "unavailable", "unavailable_providers": unavailable}
        return Response(orjson.dumps(body), status_code=503, media_type=JSON)
    return Response(b'{"status":"ready"}', media_type=JSON)


async def on_client_disconnected(request: Request, exc: Exception) -> Response:
    return Response(status_code=499)  # nobody reads it; nginx's code for the record


async def prometheus(request: Request) -> Response:
    _check_admin(request)
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def admin_reload(request: Request) -> Response:
    state = _state(request)
    if state.admin_key is None:
        raise ProxyError(
            403,
            "permission_error",
            "Set admin.api_key in the config to enable /admin/reload, or send SIGHUP.",
            code="admin_disabled",
        )
    _check_admin(request)
    ok, message = await _gateway(request).reload()
    body = orjson.dumps({"reloaded": ok, "message": message})
    return Response(body, status_code=200 if ok else 422, media_type=JSON)


def _check_admin(request: Request) -> None:
    admin_key = _state(request).admin_key
    if admin_key is not None:
        admin_key.check(request.headers.get("authorization"), None)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)  # before reading a byte of it
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise body_too_large(limit)
        parts.append(part)
    return b"".join(parts)


def _served_headers(trace: RequestTrace) -> dict[str, str]:
    return {
        "x-proxy-provider": trace.provider,
        "x-proxy-upstream-model": trace.upstream_model or "",
        "x-proxy-attempts": str(sum(not a.outcome.startswith("skipped") for a in trace.attempts)),
    }


# --- error mapping: the one place a ProxyError becomes an HTTP response -----------------


def error_response(error: ProxyError) -> Response:
    return Response(
        error.to_openai_body(),
        status_code=error.status,
        media_type=JSON,
        headers=dict(error.headers),
    )


async def on_proxy_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProxyError)
    return error_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(method_not_allowed(request.method, request.url.path))
    if exc.status_code == 404:
        return error_response(
            not_found(f"Unknown route {request.method} {request.url.path}.", "unknown_route")
        )
    error = ProxyError(exc.status_code, "invalid_request_error", str(exc.detail))
    return error_response(error)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(internal_error())
