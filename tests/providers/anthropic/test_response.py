"""proxy/providers/anthropic/response.py: Messages answer -> chat.completion; finish reasons."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import UpstreamError
from proxy.providers.anthropic import AnthropicAdapter, from_anthropic_response
from proxy.providers.base import Usage
from tests.providers.anthropic.golden import CASES, CTX, FIXTURES, load, provider


@pytest.mark.parametrize("case", CASES)
def test_response(case: str) -> None:
    expected = load(case, "openai_response.json")
    assert from_anthropic_response(load(case, "anthropic_response.json"), CTX) == expected
    adapter = AnthropicAdapter("claude", provider())
    reply = adapter.parse_response((FIXTURES / case / "anthropic_response.json").read_bytes(), CTX)
    assert orjson.loads(reply.body) == expected
    usage = expected["usage"]
    assert reply.usage == Usage(
        prompt=usage["prompt_tokens"],
        completion=usage["completion_tokens"],
        cached=usage["prompt_tokens_details"]["cached_tokens"],
        reasoning=usage["completion_tokens_details"]["reasoning_tokens"],
    )


# Written out from the `stop_reason` field of https://docs.anthropic.com/en/api/messages and
# the mapping the design asks for (not read from the code's own table, which this test checks).
ANTHROPIC_STOP_REASONS = [
    ("end_turn", "stop"),
    ("stop_sequence", "stop"),
    ("pause_turn", "stop"),
    ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"),
    ("tool_use", "tool_calls"),
    ("refusal", "content_filter"),
]


@pytest.mark.parametrize(("reason", "mapped"), ANTHROPIC_STOP_REASONS)
def test_finish_reason_table(reason: str, mapped: str) -> None:
    case = "tools" if reason == "tool_use" else "text"
    message = {**load(case, "anthropic_response.json"), "stop_reason": reason}
    assert from_anthropic_response(message, CTX)["choices"][0]["finish_reason"] == mapped


def test_finish_reason_table_covers_every_sdk_stop_reason() -> None:
    from anthropic.types import StopReason

    sdk_reasons = set(StopReason.__args__)  # type: ignore[attr-defined]
    assert {reason for reason, _ in ANTHROPIC_STOP_REASONS} == sdk_reasons


def test_unknown_stop_reason_is_stop() -> None:
    message = {**load("text", "anthropic_response.json"), "stop_reason": "something_new"}
    assert from_anthropic_response(message, CTX)["choices"][0]["finish_reason"] == "stop"


def test_malformed_content_block() -> None:
    message = {**load("text", "anthropic_response.json"), "content": [{"type": "text"}]}
    with pytest.raises(UpstreamError) as info:
        from_anthropic_response(message, CTX, "claude")
    assert info.value.outcome == "malformed_response"
    assert "content[0].text" in info.value.message


def test_json_answer_with_client_tool_calls_keeps_both() -> None:
    message = load("tools", "anthropic_response.json")
    message["content"].append(
        {"type": "tool_use", "id": "toolu_x", "name": "respond_with_json", "input": {"a": 1}}
    )
    choice = from_anthropic_response(message, CTX)["choices"][0]
    assert choice["message"]["content"] == '{"a":1}'
    assert [c["id"] for c in choice["message"]["tool_calls"]] == ["toolu_01WeatherParis"]
    assert choice["finish_reason"] == "tool_calls"
