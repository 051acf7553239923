"""proxy/providers/gemini/errors.py: Gemini error bodies -> UpstreamError."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import UpstreamError
from proxy.providers.gemini import GeminiAdapter, gemini_error
from tests.providers.gemini.golden import ERROR_CASES, FIXTURES, KEY, load, provider_config


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_translation(case: str) -> None:
    setup = load(case, "case.json")
    payload = (FIXTURES / case / "gemini_error.json").read_bytes()
    adapter = GeminiAdapter("gem", provider_config())
    error = adapter.parse_error(setup["status"], setup["headers"], payload)
    expected = load(case, "expected.json")
    assert {key: getattr(error, key) for key in expected} == expected
    assert isinstance(error, UpstreamError)


@pytest.mark.parametrize(
    "payload",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b"",
        b"\xff\xfe garbage",
        b"[]",
        b'{"error": "x"}',
    ],
)
def test_non_json_error_bodies_do_not_crash(payload: bytes) -> None:
    error = gemini_error("gem", 502, {}, payload)
    assert error.status == 502 and error.retryable and error.upstream_status == 502


def test_errors_never_echo_keys() -> None:
    leaked = (
        f"Request to https://generativelanguage.googleapis.com/v1beta/models/x?key={KEY}&alt=sse "
        f"failed; key {KEY} and AIzaSyOTHER-key-abcdefghijklmnopqrstuv are invalid"
    )
    payload = orjson.dumps(
        {"error": {"code": 400, "message": leaked, "status": "INVALID_ARGUMENT"}}
    )
    adapter = GeminiAdapter("gem", provider_config())
    error = adapter.parse_error(400, {}, payload)
    assert KEY not in error.message and "AIza" not in error.message
    assert "key=***" in error.message
    html = f"<html>?key={KEY}</html>".encode()
    assert KEY not in adapter.parse_error(500, {}, html).message
    assert KEY not in adapter.parse_error(500, {}, html).to_openai_body().decode()


def test_invalid_provider_key_is_not_blamed_on_the_client() -> None:
    payload = orjson.dumps(
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            }
        }
    )
    error = gemini_error("gem", 400, {}, payload)
    assert error.outcome == "auth_failed" and error.retryable and error.status == 502
    location = orjson.dumps(
        {
            "error": {
                "code": 400,
                "message": "User location is not supported for the API use.",
                "status": "FAILED_PRECONDITION",
            }
        }
    )
    assert gemini_error("gem", 400, {}, location).outcome == "auth_failed"


def test_retry_after_header_wins_over_retry_info() -> None:
    payload = (FIXTURES / "error_429" / "gemini_error.json").read_bytes()
    assert gemini_error("gem", 429, {"retry-after": "3"}, payload).retry_after == 3.0
    assert gemini_error("gem", 429, {}, payload).retry_after == 37.0
    wrapped = b"[" + payload + b"]"
    assert gemini_error("gem", 429, None, wrapped).code == "RESOURCE_EXHAUSTED"
