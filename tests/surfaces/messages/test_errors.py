"""The proxy's errors in Anthropic's shape and statuses; upstream errors on passthrough
unmodified; the in-band stream error event."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import (
    all_deployments_failed,
    authentication_failed,
    body_too_large,
    invalid_request,
    not_found,
    overloaded,
    upstream_status_error,
)
from proxy.surfaces.messages.errors import error_event, error_parts, verbatim


@pytest.mark.parametrize(
    ("error", "status", "kind", "retry"),
    [
        (authentication_failed(), 401, "authentication_error", b"false"),
        (not_found("no such model"), 404, "not_found_error", b"false"),
        (
            invalid_request("max_tokens: expected an integer"),
            400,
            "invalid_request_error",
            b"false",
        ),
        (body_too_large(10), 413, "request_too_large", b"false"),
        (overloaded(), 503, "overloaded_error", b"true"),
        (all_deployments_failed("m", [], [], None), 503, "overloaded_error", b"true"),
        (upstream_status_error("p", 429, "slow down"), 429, "rate_limit_error", b"true"),
        (upstream_status_error("p", 500, "boom"), 502, "api_error", b"true"),
    ],
)
def test_proxy_errors(error: object, status: int, kind: str, retry: bytes) -> None:
    sent_status, body, headers = error_parts(error)  # type: ignore[arg-type]
    assert sent_status == status
    parsed = orjson.loads(body)
    assert parsed["type"] == "error"
    assert parsed["error"]["type"] == kind
    assert parsed["error"]["message"]
    assert (b"x-should-retry", retry) in headers


def test_upstream_client_error_is_sent_unmodified() -> None:
    raw = b'{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"},"request_id":"req_1"}'
    error = verbatim(upstream_status_error("claude", 400, "prompt is too long"), 400, raw)
    status, body, _ = error_parts(error)
    assert (status, body) == (400, raw)


def test_retryable_upstream_error_is_not_sent_verbatim() -> None:
    raw = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    error = verbatim(upstream_status_error("claude", 529, "Overloaded"), 529, raw)
    status, body, _ = error_parts(error)
    assert status == 503 and orjson.loads(body)["error"]["type"] == "overloaded_error"


def test_error_event() -> None:
    event = error_event(overloaded())
    assert event.startswith(b"event: error\ndata: ")
    assert orjson.loads(event.split(b"data: ", 1)[1])["error"]["type"] == "overloaded_error"
