"""The golden fixtures themselves speak the real wire formats (anthropic and openai SDK types)."""

from __future__ import annotations

import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from proxy.sse import SSEDecoder
from tests.providers.anthropic.golden import CASES, ERROR_CASES, load, sse_bytes


def test_fixture_set_is_complete() -> None:
    assert set(CASES) >= {
        "text",
        "system",
        "multi_turn",
        "image",
        "tools",
        "parallel_tools",
        "tool_result_round_trip",
        "tool_choice_required",
        "json_schema",
        "thinking",
        "max_tokens",
        "stop_sequence",
        "refusal",
        "usage_cache",
    }
    assert {f"error_{s}" for s in (400, 401, 403, 404, 413, 429, 500, 529)} <= set(ERROR_CASES)


@pytest.mark.parametrize("case", CASES)
def test_fixture_shapes_match_the_sdks(case: str) -> None:
    Message.model_validate(load(case, "anthropic_response.json"))
    events = TypeAdapter(RawMessageStreamEvent)
    decoder = SSEDecoder()
    for event in decoder.feed(sse_bytes(case)) + decoder.flush():
        assert event.event == event.json()["type"]
        if event.event != "ping":
            events.validate_python(event.json())
    ChatCompletion.model_validate(load(case, "openai_response.json"))
    for chunk in load(case, "openai_chunks.json"):
        ChatCompletionChunk.model_validate(chunk)


@pytest.mark.parametrize("case", CASES)
def test_expected_requests_pass_the_apis_checks(case: str) -> None:
    from tests.fakes.anthropic import request_problem

    body = load(case, "anthropic_request.json")
    assert request_problem(body) is None
    assert request_problem({**body, "stream": True}) is None
