"""Thin HTTP handlers for everything but chat completions (chat.py): models, health,
metrics, admin; and the Starlette exception handlers, all through asgi.error_parts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from proxy import metrics, status
from proxy.asgi import error_parts
from proxy.errors import ProxyError, internal_error, method_not_allowed, not_found
from proxy.surfaces.messages.models import anthropic_models_body
from proxy.tenancy.report import key_reports

if TYPE_CHECKING:
    from proxy.lifecycle import Lifecycle
    from proxy.state import AppState, Gateway

log = logging.getLogger("proxy")
JSON = "application/json"


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def _state(request: Request) -> AppState:
    state = _gateway(request).state
    assert state is not None  # set in the lifespan, before any request
    return state


def _lifecycle(request: Request) -> Lifecycle:
    return _gateway(request).lifecycle


async def served_at_edge(request: Request) -> Response:
    """Never reached: the edge (edge.py) answers POST on the raw surfaces (chat completions,
    messages, responses) itself; the route exists so that other methods get the router's 405."""
    raise RuntimeError("raw surfaces must be dispatched by the edge")


async def list_models(request: Request) -> Response:
    """The public models; a named key with a model list sees only its own."""
    state = _state(request)
    who = state.auth.check(request.headers.get("authorization"), request.headers.get("x-api-key"))
    body = state.models_body
    if who.tenant is not None and who.tenant.key.models is not None:
        visible = who.tenant.visible(state.model_objects)
        data = b",".join(state.model_objects[name] for name in visible)
        body = b'{"object":"list","data":[' + data + b"]}"
    if "anthropic-version" in request.headers:  # an Anthropic SDK: its list shape
        return Response(anthropic_models_body(body), media_type=JSON)
    return Response(body, media_type=JSON)


async def retrieve_model(request: Request) -> Response:
    """OpenAI's model object for a listed public model; else the usual model_not_found."""
    state = _state(request)
    who = state.auth.check(request.headers.get("authorization"), request.headers.get("x-api-key"))
    name: str = request.path_params["model"]
    body = state.model_objects.get(name)
    if who.tenant is not None and not who.tenant.may_use(name):
        body = None  # a model the key may not use looks like a missing one
    if body is None:
        raise not_found(
            f"The model '{name[:200]}' does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )
    return Response(body, media_type=JSON)


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


async def ready(request: Request) -> Response:
    """503 while draining, or while every provider in use is unavailable (breaker open or
    in a 429 cooldown). Unauthenticated, so it names no provider: /metrics does, behind
    the admin key (proxy_breaker_state)."""
    state = _state(request)
    if _lifecycle(request).draining:
        return Response(b'{"status":"draining"}', status_code=503, media_type=JSON)
    if state.router.unavailable_providers() is not None:
        return Response(b'{"status":"unavailable"}', status_code=503, media_type=JSON)
    return Response(b'{"status":"ready"}', media_type=JSON)


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


async def admin_status(request: Request) -> Response:
    """The operator status (status.py); admin auth as /admin/reload."""
    if _state(request).admin_key is None:
        raise ProxyError(
            403,
            "permission_error",
            "Set admin.api_key in the config to enable /admin/status.",
            code="admin_disabled",
        )
    _check_admin(request)
    return Response(orjson.dumps(status.build(_gateway(request))), media_type=JSON)


async def admin_keys(request: Request) -> Response:
    """Per named key: limits, this minute's use, in-flight, spend, budget, expiry; never a
    key or its digest. Admin auth as /admin/reload."""
    state = _state(request)
    if state.admin_key is None:
        raise ProxyError(
            403,
            "permission_error",
            "Set admin.api_key in the config to enable /admin/keys.",
            code="admin_disabled",
        )
    _check_admin(request)
    policy = state.auth.policy
    tenants = [] if policy is None else list(policy.tenants.values())
    keys = await key_reports(tenants, state.store)
    return Response(orjson.dumps({"object": "list", "data": keys}), media_type=JSON)


def _check_admin(request: Request) -> None:
    admin_key = _state(request).admin_key
    if admin_key is not None:
        admin_key.check(request.headers.get("authorization"), None)


# --- Starlette's exception handlers: they adapt asgi.error_parts, the one place a
# ProxyError becomes HTTP (status, headers, body); chat.py uses it through asgi.send_error.


def error_response(error: ProxyError) -> Response:
    body, headers = error_parts(error)
    return Response(body, error.status, {k.decode(): v.decode() for k, v in headers})


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
