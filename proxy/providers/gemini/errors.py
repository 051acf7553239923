"""Gemini error answers -> UpstreamError (classified once, by errors.upstream_status_error).

Gemini errors are google.rpc.Status objects (https://ai.google.dev/gemini-api/docs/troubleshooting):

    {"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED",
               "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}

The HTTP status decides fallback and breaker charging; Gemini's `status` string becomes
the OpenAI error `code`, and for client errors (400 INVALID_ARGUMENT, 404 NOT_FOUND)
Gemini's message reaches the client as is. Two provider-side problems arrive as 400 and
are re-classified so they fall back instead of blaming the client (PROVIDER_SIDE below).
A 429's RetryInfo.retryDelay stands in for a missing Retry-After header.

Messages and statuses are handed over whole: errors.upstream_status_error redacts every
configured secret, `key=...` URL parameters and anything shaped like a Google API key from
message and code, then cuts (proxy/redaction.py), for error bodies and in-stream errors alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.errors import UpstreamError, upstream_status_error
from proxy.redaction import unrecognised_body

# https://cloud.google.com/apis/design/errors#handling_errors: status -> HTTP code, used for
# error objects that arrive inside a 200 stream, where only the body tells the status.
GEMINI_STATUS_CODES: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
# Answered 400 by Gemini, but the fault is the deployment's, not the request's: a bad
# provider key (ErrorInfo reason API_KEY_INVALID) and FAILED_PRECONDITION ("User location is
# not supported for the API use", billing not enabled). Classified as 401 / 403 (auth_failed:
# fall back to the next deployment, breaker not charged).
PROVIDER_SIDE: dict[str, int] = {"API_KEY_INVALID": 401, "FAILED_PRECONDITION": 403}


def gemini_error(
    provider: str, status: int, headers: Mapping[str, str] | None, payload: bytes
) -> UpstreamError:
    """The UpstreamError for a non-2xx Gemini answer; non-JSON bodies are fine too."""
    try:
        parsed: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        parsed = None
    error = _error_object(parsed)
    if error is None:
        return upstream_status_error(provider, status, unrecognised_body(payload), headers)
    return error_from_object(provider, status, error, headers)


def error_from_object(
    provider: str,
    status: int | None,
    error: dict[str, Any],
    headers: Mapping[str, str] | None = None,
) -> UpstreamError:
    """An UpstreamError from a google.rpc.Status object (an error body, or an in-stream error)."""
    gemini_status = error.get("status") if isinstance(error.get("status"), str) else None
    if status is None:
        code = error.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else None
        status = status or GEMINI_STATUS_CODES.get(gemini_status or "", 500)
    found = error.get("details")
    details: list[Any] = found if isinstance(found, list) else []
    reasons = [d.get("reason") for d in details if isinstance(d, dict)]
    for marker in (*reasons, gemini_status):
        if isinstance(marker, str) and marker in PROVIDER_SIDE:
            status = PROVIDER_SIDE[marker]
            break
    message = error.get("message")
    text = message.strip() if isinstance(message, str) else ""
    return upstream_status_error(
        provider,
        status,
        text or "no message",
        _with_retry_delay(headers, details),
        code=gemini_status,
    )


def _error_object(parsed: Any) -> dict[str, Any] | None:
    # streamGenerateContent without alt=sse answers a JSON array; accept one wrapped error.
    if isinstance(parsed, list) and len(parsed) == 1:
        parsed = parsed[0]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else None


def _with_retry_delay(
    headers: Mapping[str, str] | None, details: list[Any]
) -> Mapping[str, str] | None:
    if headers is not None and headers.get("retry-after") is not None:
        return headers
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith(
            "google.rpc.RetryInfo"
        ):
            delay = detail.get("retryDelay")  # a protobuf Duration in JSON: "37s", "1.5s"
            if isinstance(delay, str) and delay.endswith("s"):
                return {"retry-after": delay[:-1]}
    return headers
