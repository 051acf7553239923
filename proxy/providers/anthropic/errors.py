"""Anthropic error answers -> UpstreamError, for HTTP error bodies and in-stream `error` events.

Anthropic errors look like `{"type": "error", "error": {"type": ..., "message": ...,
"details": {"error_code": ...}}, "request_id": ...}` (https://docs.anthropic.com/en/api/errors
and anthropic.types.shared.ErrorResponse). Classification by status is errors.py's job; this
module only reads the body. It hands error.type and the message over whole: redaction of
every configured secret, then the cut, happen in errors.upstream_status_error, for HTTP
errors and in-stream `error` events alike. A body it does not understand reaches a message
only as redaction.unrecognised_body's short, printable, secret-free excerpt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from proxy.errors import UpstreamError, upstream_status_error
from proxy.redaction import register_secrets, unrecognised_body

# error.type -> the HTTP status Anthropic documents for it (https://docs.anthropic.com/en/api/errors).
# Used for in-stream `error` events, which arrive inside a 200 response.
ERROR_STATUSES: Mapping[str, int] = MappingProxyType(
    {
        "invalid_request_error": 400,
        "authentication_error": 401,
        "billing_error": 403,  # the key cannot be used: a provider-side problem, like 403
        "permission_error": 403,
        "not_found_error": 404,
        "request_too_large": 413,
        "rate_limit_error": 429,
        "api_error": 500,
        "timeout_error": 504,
        "overloaded_error": 529,
    }
)


def anthropic_error(
    provider: str,
    status: int,
    headers: Mapping[str, str] | None,
    payload: bytes,
    secrets: Iterable[str] = (),
) -> UpstreamError:
    """A non-2xx Anthropic answer -> UpstreamError, with Anthropic's error type as `code`.
    `secrets`: for a caller outside an adapter; the adapter registered its key at startup."""
    if secrets:
        register_secrets(secrets)
    kind, message, error_code = _read_body(payload)
    # A spend limit lasts until the billing period or tier changes: the provider cools down
    # for the longest time, whatever Retry-After says.
    quota = status == 429 and _is_spend_limit(error_code, message)
    return upstream_status_error(
        provider, status, message, None if quota else headers, code=kind, quota_exhausted=quota
    )


def stream_error(provider: str, kind: Any, message: Any) -> UpstreamError:
    """An in-stream `error` event (e.g. overloaded_error mid-stream) -> UpstreamError."""
    kind = kind if isinstance(kind, str) else "api_error"
    text = message if isinstance(message, str) and message else kind
    return upstream_status_error(provider, ERROR_STATUSES.get(kind, 500), text, code=kind)


def _read_body(payload: bytes) -> tuple[str | None, str, str | None]:
    """(error.type, message, error.details.error_code) of an error body, tolerating anything."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None, unrecognised_body(payload, "the error body is not JSON"), None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, "the error body has no 'error' object", None
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = kind or "no error message"
    details = error.get("details")
    code = details.get("error_code") if isinstance(details, dict) else None
    return kind, message, code if isinstance(code, str) else None


def _is_spend_limit(error_code: str | None, message: str) -> bool:
    # anthropic.types.shared: enforced_/contract_/linked_organization_spend_limit_reached.
    if error_code is not None and error_code.endswith("spend_limit_reached"):
        return True
    lowered = message.lower()
    return "spend limit" in lowered or "usage limit" in lowered
