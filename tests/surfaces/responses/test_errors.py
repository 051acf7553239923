"""proxy/surfaces/responses/errors.py: the surface's error body and the failed Response's error."""

from __future__ import annotations

import orjson
import pytest
from openai.types.responses import ResponseError

from proxy.errors import ProxyError, invalid_request
from proxy.surfaces.responses.errors import error_body, response_error


def test_error_body_is_the_openai_envelope() -> None:
    error = invalid_request("Unknown parameter: 'x'.", "x", "unknown_parameter")
    assert orjson.loads(error_body(error)) == {
        "error": {
            "message": "Unknown parameter: 'x'.",
            "type": "invalid_request_error",
            "param": "x",
            "code": "unknown_parameter",
        }
    }


CODES = [
    ("rate_limit_error", 429, "rate_limit_exceeded"),
    ("invalid_request_error", 400, "invalid_prompt"),
    ("server_error", 502, "server_error"),
    ("service_unavailable", 503, "server_error"),
    ("authentication_error", 401, "server_error"),
]


@pytest.mark.parametrize(("kind", "status", "code"), CODES)
def test_response_error_code_is_in_the_sdk_closed_set(kind: str, status: int, code: str) -> None:
    error = ProxyError(status, kind, "went wrong")  # type: ignore[arg-type]
    value = response_error(error)
    assert value == {"code": code, "message": "went wrong"}
    ResponseError.model_validate(value)
