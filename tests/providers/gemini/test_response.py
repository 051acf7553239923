"""proxy/providers/gemini/response.py: GenerateContentResponse -> chat.completion."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from proxy.providers.gemini import from_gemini_response
from tests.providers.gemini.golden import CTX, SUCCESS_CASES, load, stream_chunks


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_response_translation(case: str) -> None:
    expected = load(case, "openai_response.json")
    assert from_gemini_response(load(case, "gemini_response.json"), CTX) == expected


# Written out from https://ai.google.dev/api/generate-content#FinishReason and the mapping the
# design asks for (not read from the code's own table, which this test checks).
GEMINI_FINISH_REASONS = [
    ("STOP", "stop"),
    ("MAX_TOKENS", "length"),
    ("SAFETY", "content_filter"),
    ("RECITATION", "content_filter"),
    ("BLOCKLIST", "content_filter"),
    ("PROHIBITED_CONTENT", "content_filter"),
    ("SPII", "content_filter"),
    ("IMAGE_SAFETY", "content_filter"),
    ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
    ("IMAGE_RECITATION", "content_filter"),
]


@pytest.mark.parametrize(("reason", "mapped"), GEMINI_FINISH_REASONS)
def test_finish_reason_table(reason: str, mapped: str) -> None:
    gemini = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
    assert from_gemini_response(gemini, CTX)["choices"][0]["finish_reason"] == mapped
    assert stream_chunks([gemini])[-2]["choices"][0]["finish_reason"] == mapped


@pytest.mark.parametrize("reason", ["OTHER", "MALFORMED_FUNCTION_CALL", "SOMETHING_NEW", None])
def test_unknown_finish_reasons_are_stop_and_logged(
    reason: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    gemini: dict[str, Any] = {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}
    gemini["candidates"][0]["finishReason"] = reason
    with caplog.at_level(logging.WARNING, logger="proxy.providers.gemini.response"):
        assert from_gemini_response(gemini, CTX)["choices"][0]["finish_reason"] == "stop"
    assert any(str(reason) in r.getMessage() for r in caplog.records)


def test_function_call_wins_over_any_finish_reason() -> None:
    call = {"functionCall": {"name": "f", "args": {}}}
    for reason in ("STOP", "MAX_TOKENS", "OTHER"):
        gemini = {"candidates": [{"content": {"parts": [call]}, "finishReason": reason}]}
        assert from_gemini_response(gemini, CTX)["choices"][0]["finish_reason"] == "tool_calls"
