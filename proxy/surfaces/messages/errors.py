"""Errors on /v1/messages in Anthropic's shape: `{"type": "error", "error": {"type",
"message"}}` with Anthropic's statuses and error types (https://docs.anthropic.com/en/api/errors).

The proxy's own errors (auth, limits, overload, no healthy deployment) map by status; an
upstream Anthropic error on a passthrough route goes back unmodified, status and bytes
(Claude Code's recovery matches on their wording). `x-should-retry` tells Anthropic SDKs
(and Claude Code) whether a retry may help, as the API itself does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType

import orjson
from starlette.types import Send

from proxy.asgi import JSON_TYPE, RawHeaders, send_whole
from proxy.errors import ProxyError, UpstreamError
from proxy.redaction import redact

# Status -> Anthropic error type (https://docs.anthropic.com/en/api/errors). 502 has no
# Anthropic type of its own: api_error, as for 500.
ERROR_TYPES: Mapping[int, str] = MappingProxyType(
    {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "billing_error",
        403: "permission_error",
        404: "not_found_error",
        405: "invalid_request_error",
        413: "request_too_large",
        415: "invalid_request_error",
        422: "invalid_request_error",
        429: "rate_limit_error",
        500: "api_error",
        501: "not_supported",
        502: "api_error",
        503: "overloaded_error",
        504: "timeout_error",
        529: "overloaded_error",
    }
)
_RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass
class VerbatimError(UpstreamError):
    """An upstream Anthropic error on a passthrough route, with its status and body to
    send back unchanged (the router judges it like any UpstreamError)."""

    raw_status: int = 500
    raw_body: bytes = b""


def verbatim(error: UpstreamError, status: int, body: bytes) -> UpstreamError:
    values = {f.name: getattr(error, f.name) for f in fields(error)}
    return VerbatimError(
        **values, raw_status=status, raw_body=redact(body.decode(errors="replace")).encode()
    )


def error_type(status: int) -> str:
    found = ERROR_TYPES.get(status)
    if found is not None:
        return found
    return "invalid_request_error" if status < 500 else "api_error"


def anthropic_body(error: ProxyError) -> bytes:
    return orjson.dumps(
        {"type": "error", "error": {"type": error_type(error.status), "message": error.message}}
    )


def error_parts(error: ProxyError) -> tuple[int, bytes, RawHeaders]:
    """(status, body, headers) of the Anthropic-shaped answer for a ProxyError."""
    headers: RawHeaders = [(b"content-type", JSON_TYPE)]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    if isinstance(error, VerbatimError) and error.raw_body and not error.retryable:
        status, body = error.raw_status, error.raw_body
    else:
        status, body = error.status, anthropic_body(error)
    retry = b"true" if status in _RETRYABLE else b"false"
    headers.append((b"x-should-retry", retry))
    return status, body, headers


async def send_anthropic_error(send: Send, error: ProxyError) -> None:
    status, body, headers = error_parts(error)
    await send_whole(send, status, body, headers)


def error_event(error: ProxyError) -> bytes:
    """The in-band error that ends a committed Messages stream, as Anthropic sends it."""
    return b"event: error\ndata: " + anthropic_body(error) + b"\n\n"
