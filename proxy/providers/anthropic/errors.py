"""Anthropic error answers -> UpstreamError, for HTTP error bodies and in-stream `error` events.

Anthropic errors look like `{"type": "error", "error": {"type": ..., "message": ...,
"details": {"error_code": ...}}, "request_id": ...}` (https://docs.anthropic.com/en/api/errors
and anthropic.types.shared.ErrorResponse). Classification by status is errors.py's job; this
module only reads the body, and never lets more than a short, printable, secret-free excerpt
of a body it does not understand reach a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from proxy.errors import UpstreamError, upstream_status_error

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

_MESSAGE_LIMIT = 1000
_EXCERPT_LIMIT = 120


def anthropic_error(
    provider: str,
    status: int,
    headers: Mapping[str, str] | None,
    payload: bytes,
    secrets: Iterable[str] = (),
) -> UpstreamError:
    """A non-2xx Anthropic answer -> UpstreamError, with Anthropic's error type as `code`."""
    kind, message, error_code = _read_body(payload, tuple(s for s in secrets if s))
    # A spend limit lasts until the billing period or tier changes: the provider cools down
    # for the longest time, whatever Retry-After says.
    quota = status == 429 and _is_spend_limit(error_code, message)
    return upstream_status_error(
        provider, status, message, None if quota else headers, code=kind, quota_exhausted=quota
    )


def stream_error(provider: str, kind: Any, message: Any) -> UpstreamError:
    """An in-stream `error` event (e.g. overloaded_error mid-stream) -> UpstreamError."""
    kind = kind if isinstance(kind, str) else "api_error"
    text = message[:_MESSAGE_LIMIT] if isinstance(message, str) and message else kind
    return upstream_status_error(provider, ERROR_STATUSES.get(kind, 500), text, code=kind)


def _read_body(payload: bytes, secrets: tuple[str, ...]) -> tuple[str | None, str, str | None]:
    """(error.type, message, error.details.error_code) of an error body, tolerating anything.
    Secrets are redacted before anything is cut, so no prefix of one can survive."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return (
            None,
            _non_json_message(_redact(payload[:4096].decode("utf-8", "replace"), secrets)),
            None,
        )
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, "the error body has no 'error' object", None
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = kind or "no error message"
    details = error.get("details")
    code = details.get("error_code") if isinstance(details, dict) else None
    message = _redact(message, secrets)[:_MESSAGE_LIMIT]
    return kind, message, code if isinstance(code, str) else None


def _non_json_message(text: str) -> str:
    text = text[: _EXCERPT_LIMIT * 4]
    excerpt = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if not excerpt:
        return "the error body is empty"
    if len(excerpt) > _EXCERPT_LIMIT:
        excerpt = excerpt[:_EXCERPT_LIMIT] + "..."
    return f"the error body is not JSON: {excerpt!r}"


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _is_spend_limit(error_code: str | None, message: str) -> bool:
    # anthropic.types.shared: enforced_/contract_/linked_organization_spend_limit_reached.
    if error_code is not None and error_code.endswith("spend_limit_reached"):
        return True
    lowered = message.lower()
    return "spend limit" in lowered or "usage limit" in lowered
