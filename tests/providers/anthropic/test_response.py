"""proxy/providers/anthropic/response.py: Messages answer -> chat.completion; finish reasons."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import UpstreamError
from proxy.providers.anthropic import FINISH_REASONS, AnthropicAdapter, from_anthropic_response
from proxy.providers.base import Usage
from tests.providers.anthropic.cases import CASES, CTX, FIXTURES, load, provider


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


def test_finish_reasons_cover_every_anthropic_stop_reason() -> None:
    from anthropic.types import StopReason

    assert set(FINISH_REASONS) == set(StopReason.__args__)  # type: ignore[attr-defined]
    assert set(FINISH_REASONS.values()) <= {"stop", "length", "tool_calls", "content_filter"}


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
