"""The closed error taxonomy: every failure the proxy reports is a ProxyError.

Errors are grouped by who is at fault (caller, policy, provider, proxy). Statuses and
OpenAI error types live only here; the edge turns a ProxyError into the OpenAI envelope
`{"error": {"message", "type", "param", "code"}}` once, with `to_openai_body()`.

Redaction (design.md §5): every error built from upstream text goes through
`upstream_status_error` or `upstream_transport_error`, and they pass message, code and param
through `redaction.client_text`: every configured secret redacted, then cut.
Adapters hand over the upstream's text whole, never cut, so no prefix of a key can survive
a cut; in-band stream errors (passthrough, Anthropic, Gemini) become the same errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import orjson

from proxy.redaction import FIELD_LIMIT, MESSAGE_LIMIT, client_text
from proxy.retry_after import parse_retry_after

OpenAIErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "insufficient_quota",  # a named key's spent budget (OpenAI's quota answer)
    "server_error",
    "service_unavailable",
]

# Why an upstream attempt failed: a closed vocabulary shared by logs, metrics and messages.
Outcome = Literal[
    "connect_error",
    "timeout",
    "rate_limited",
    "overloaded",
    "server_error",
    "auth_failed",
    "client_error",
    "malformed_response",
    "response_too_large",
    "stream_error",
    "upstream_truncated",
    "pool_timeout",  # no free connection in the proxy's own pool: never the provider's fault
]


@dataclass
class ProxyError(Exception):
    """An error answered to the client. `headers` carries e.g. Retry-After."""

    status: int
    type: OpenAIErrorType
    message: str
    code: str | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def to_openai_body(self) -> bytes:
        return orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "param": self.param,
                    "code": self.code,
                }
            }
        )


# --- caller's fault -------------------------------------------------------------------


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> ProxyError:
    return ProxyError(400, "invalid_request_error", message, code=code, param=param)


def unsupported_parameter(param: str, provider: str) -> ProxyError:
    return invalid_request(
        f"Unsupported parameter: '{param}' is not supported by provider '{provider}'. "
        "Remove it, or set drop_unsupported: true on that provider to ignore it.",
        param=param,
        code="unsupported_parameter",
    )


def authentication_failed() -> ProxyError:
    # One body for missing, wrong and malformed keys, so a caller learns nothing from it.
    return ProxyError(
        401,
        "authentication_error",
        "Invalid or missing API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
        code="invalid_api_key",
        headers={"www-authenticate": "Bearer"},
    )


def not_found(message: str, code: str = "not_found", param: str | None = None) -> ProxyError:
    return ProxyError(404, "not_found_error", message, code=code, param=param)


def method_not_allowed(method: str, path: str) -> ProxyError:
    return ProxyError(
        405,
        "invalid_request_error",
        f"Method {method} is not allowed on {path}.",
        "method_not_allowed",
    )


def body_too_large(limit: int) -> ProxyError:
    return ProxyError(
        413,
        "invalid_request_error",
        f"Request body is larger than the proxy's limit of {limit} bytes.",
        code="request_too_large",
    )


def unsupported_media_type(content_type: str) -> ProxyError:
    return ProxyError(
        415,
        "invalid_request_error",
        f"Unsupported Content-Type '{content_type[:80]}': send 'Content-Type: application/json'.",
        code="unsupported_media_type",
    )


# --- policy ----------------------------------------------------------------------------


def model_unavailable(model: str, missing_vars: tuple[str, ...]) -> ProxyError:
    hint = f" Set {', '.join(missing_vars)} and restart." if missing_vars else ""
    return ProxyError(
        503,
        "service_unavailable",
        f"Model '{model}' has no enabled deployment.{hint}",
        code="model_unavailable",
    )


def overloaded(retry_after: int = 1) -> ProxyError:
    return ProxyError(
        503,
        "service_unavailable",
        "The proxy is at its in-flight request limit; retry shortly.",
        code="overloaded",
        headers={"retry-after": str(retry_after)},
    )


def shutting_down() -> ProxyError:
    return ProxyError(
        503,
        "service_unavailable",
        "The proxy is shutting down; retry on another instance.",
        code="shutting_down",
        headers={"connection": "close", "retry-after": "1"},
    )


def stream_cut_by_shutdown() -> ProxyError:
    return ProxyError(
        503,
        "service_unavailable",
        "The proxy is shutting down and ended this stream; retry on another instance.",
        code="gateway_shutdown",
    )


# --- provider's fault ------------------------------------------------------------------


@dataclass
class UpstreamError(ProxyError):
    """One failed upstream attempt, with what the router needs to decide what to do next."""

    provider: str = ""
    outcome: Outcome = "server_error"
    retryable: bool = True
    counts_for_breaker: bool = True
    retry_after: float | None = None
    upstream_status: int | None = None


@dataclass(frozen=True)
class StatusPolicy:
    outcome: Outcome
    retryable: bool
    counts_for_breaker: bool
    client_status: int
    type: OpenAIErrorType


# design.md §4: who is at fault decides fallback and breaker charging.
_CLIENT_ERROR = StatusPolicy("client_error", False, False, 400, "invalid_request_error")
_STATUS_POLICIES: dict[int, StatusPolicy] = {
    400: _CLIENT_ERROR,
    404: StatusPolicy("client_error", False, False, 404, "not_found_error"),
    413: StatusPolicy("client_error", False, False, 413, "invalid_request_error"),
    422: StatusPolicy("client_error", False, False, 422, "invalid_request_error"),
    # The provider key is wrong or lacks rights: another deployment may work; the breaker
    # stays out of it because a bad key is configuration, not sickness.
    401: StatusPolicy("auth_failed", True, False, 502, "server_error"),
    402: StatusPolicy("auth_failed", True, False, 502, "server_error"),  # billing: the account's
    403: StatusPolicy("auth_failed", True, False, 502, "server_error"),
    408: StatusPolicy("timeout", True, True, 504, "server_error"),
    429: StatusPolicy("rate_limited", True, False, 429, "rate_limit_error"),
    529: StatusPolicy("overloaded", True, True, 503, "service_unavailable"),
}
_SERVER_ERROR = StatusPolicy("server_error", True, True, 502, "server_error")


def classify_upstream_status(status: int) -> StatusPolicy:
    """The one place an upstream HTTP status becomes fallback / breaker / client status."""
    policy = _STATUS_POLICIES.get(status)
    if policy is not None:
        return policy
    if status >= 500 or status < 400:
        # 3xx too: redirects are never followed, so one means a misconfigured base_url.
        return _SERVER_ERROR
    return StatusPolicy("client_error", False, False, status, "invalid_request_error")


def upstream_status_error(
    provider: str,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
    param: str | None = None,
    quota_exhausted: bool = False,
) -> UpstreamError:
    """An UpstreamError for an HTTP error answer (or an in-band stream error object).
    `message`, `code` and `param` are the upstream's own text, uncut: redacted and cut here.

    `quota_exhausted`: the adapter recognised a spent quota or budget (a 429 that no
    Retry-After ends); without it, OpenAI-style codes and messages are recognised here."""
    message = client_text(message, MESSAGE_LIMIT)
    code = client_text(code, FIELD_LIMIT) if code is not None else None
    param = client_text(param, FIELD_LIMIT) if param is not None else None
    policy = classify_upstream_status(status)
    retry_after = parse_retry_after(headers.get("retry-after")) if headers else None
    if status == 429 and (
        quota_exhausted or (retry_after is None and _is_quota_exhausted(code, message))
    ):
        retry_after = QUOTA_COOLDOWN
    if policy.outcome == "client_error":
        # The client's own mistake: pass the provider's explanation through, in OpenAI shape.
        text = message
    else:
        text = f"Provider '{provider}' answered {status}: {message}"
    return UpstreamError(
        policy.client_status,
        policy.type,
        text,
        code=code,
        param=param,
        provider=provider,
        outcome=policy.outcome,
        retryable=policy.retryable,
        counts_for_breaker=policy.counts_for_breaker,
        retry_after=retry_after,
        upstream_status=status,
    )


# A spent quota or budget does not recover in seconds (OpenAI `insufficient_quota`,
# Anthropic/LiteLLM-style `enforced_spend_limit_reached`): keep the provider away long.
QUOTA_COOLDOWN = 3600.0
_QUOTA_MARKERS = ("insufficient_quota", "spend_limit", "quota exceeded", "billing")


def _is_quota_exhausted(code: str | None, message: str) -> bool:
    text = f"{code or ''} {message}".lower()
    return any(marker in text for marker in _QUOTA_MARKERS)


def upstream_transport_error(provider: str, outcome: Outcome, detail: str) -> UpstreamError:
    """Connect errors, timeouts, malformed or truncated replies: the provider's fault.
    `detail` may quote the upstream (an in-band error, a bad event): redacted and cut here."""
    status = 504 if outcome == "timeout" else 502
    return UpstreamError(
        status,
        "server_error",
        f"Provider '{provider}' failed: {client_text(detail, MESSAGE_LIMIT)}",
        code=outcome,
        provider=provider,
        outcome=outcome,
        retryable=True,
        counts_for_breaker=True,
    )


def pool_exhausted(provider: str, waited: float) -> UpstreamError:
    """Every connection of the proxy's pool for `provider` stayed busy: a local shortage, so
    the breaker is not charged (issue 16); the next deployment may have room."""
    return UpstreamError(
        503,
        "service_unavailable",
        f"The proxy's connection pool for provider '{provider}' stayed full for {waited:.1f} s; "
        "retry shortly, or raise that provider's max_connections.",
        code="pool_exhausted",
        headers={"retry-after": "1"},
        provider=provider,
        outcome="pool_timeout",
        retryable=True,
        counts_for_breaker=False,
    )


# --- everything failed -----------------------------------------------------------------


# How an attempt ended when the provider is not to blame (or all went well).
AttemptEnd = Literal[
    "ok",
    "skipped_open",
    "skipped_cooldown",
    "skipped_incompatible",  # the conversation is bound to another provider family
    "client_disconnect",
    "client_idle",
    "internal_error",
    "gateway_shutdown",
]


@dataclass(frozen=True)
class Attempt:
    provider: str
    # A committed stream's attempt is rewritten with its verdict when the stream ends.
    outcome: Outcome | AttemptEnd


def all_deployments_failed(
    model: str, attempts: list[Attempt], errors: list[UpstreamError], retry_after: float | None
) -> ProxyError:
    """The answer when no deployment could serve: 429 if every one was rate limited,
    503 if none could even be tried, else 502 (504 if every try timed out)."""
    summary = "; ".join(f"{a.provider}: {a.outcome}" for a in attempts) or "no deployment"
    message = f"All deployments of model '{model}' failed ({summary})."
    headers = {"retry-after": str(max(1, math.ceil(retry_after)))} if retry_after else {}
    if errors and all(e.outcome == "rate_limited" for e in errors):
        # A 429 always says when to come back, even if that is now (a Retry-After in the past).
        wait = {"retry-after": str(math.ceil(retry_after or 0))}
        return ProxyError(429, "rate_limit_error", message, "rate_limited", headers=wait)
    if not errors:
        return ProxyError(
            503, "service_unavailable", message, "no_healthy_deployment", headers=headers
        )
    if all(e.outcome == "pool_timeout" for e in errors):
        # Only our own pools were full: a retry soon may well find a free connection.
        wait = {"retry-after": headers.get("retry-after", "1")}
        return ProxyError(503, "service_unavailable", message, "pool_exhausted", headers=wait)
    if all(e.outcome == "timeout" for e in errors):
        return ProxyError(504, "server_error", message, "upstream_timeout", headers=headers)
    return ProxyError(502, "server_error", message, "upstream_error", headers=headers)


def internal_error() -> ProxyError:
    return ProxyError(500, "server_error", "The proxy failed unexpectedly.", code="internal_error")
