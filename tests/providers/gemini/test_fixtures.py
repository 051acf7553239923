"""The golden fixture set is complete."""

from __future__ import annotations

from tests.providers.gemini.golden import ERROR_CASES, SUCCESS_CASES


def test_fixture_cases_are_all_there() -> None:
    expected = {
        "text",
        "system",
        "multi_turn",
        "image",
        "tools",
        "parallel_tools",
        "tool_result_round_trip",
        "thought_signature",
        "json_schema",
        "thinking",
        "max_tokens",
        "safety",
        "prompt_blocked",
        "n_candidates",
        "usage_cache",
    }
    assert expected <= set(SUCCESS_CASES)
    assert {f"error_{s}" for s in (400, 403, 404, 429, 500, 503, 504)} <= set(ERROR_CASES)
