"""proxy/surfaces/responses/response.py: chat.completion -> the Responses object."""

from __future__ import annotations

from typing import Any

import pytest
from openai.lib._parsing._responses import parse_response
from pydantic import BaseModel

from proxy.errors import UpstreamError
from proxy.surfaces.responses.request import responses_to_chat
from proxy.surfaces.responses.response import chat_to_response
from tests.surfaces.responses.golden import CASES, context, load, sdk_response


class Weather(BaseModel):
    city: str
    celsius: float


@pytest.mark.parametrize("case", CASES)
def test_golden_response(case: str) -> None:
    response = chat_to_response(load(case, "chat_response.json"), context(case))
    assert response == load(case, "response.json")
    parsed = sdk_response(response)  # the SDK's own model accepts it as OpenAI's
    assert parsed.id == "resp_fixture"


def test_output_text_and_parse_with_a_pydantic_model() -> None:
    case = "json_schema_parse"
    response = sdk_response(chat_to_response(load(case, "chat_response.json"), context(case)))
    assert response.output_text == '{"city":"Paris","celsius":21.5}'
    parsed = parse_response(text_format=Weather, input_tools=None, response=response)
    assert parsed.output_parsed == Weather(city="Paris", celsius=21.5)


def test_codex_answer_names_the_namespaced_tool_and_carries_reasoning() -> None:
    case = "codex_tool_loop"
    response = sdk_response(chat_to_response(load(case, "chat_response.json"), context(case)))
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "message", "function_call"]
    call = response.output[2]
    assert call.type == "function_call"
    assert (call.name, call.namespace, call.call_id) == ("search", "mcp__docs__", "toolu_01B")
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 1536
    assert response.usage.output_tokens_details.reasoning_tokens == 40


def completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
    return {"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}


CTX = responses_to_chat({"model": "m", "input": "x"}, "resp_t", 1).context

# chat finish_reason -> (status, incomplete_details, message item status)
FINISHES = [
    ("stop", "completed", None, "completed"),
    ("tool_calls", "completed", None, "completed"),
    ("length", "incomplete", {"reason": "max_output_tokens"}, "incomplete"),
    ("content_filter", "incomplete", {"reason": "content_filter"}, "incomplete"),
]


@pytest.mark.parametrize(("finish", "status", "details", "item_status"), FINISHES)
def test_status_from_finish_reason(
    finish: str, status: str, details: dict[str, str] | None, item_status: str
) -> None:
    response = chat_to_response(completion({"content": "x"}, finish), CTX)
    assert (response["status"], response["incomplete_details"]) == (status, details)
    assert response["output"][0]["status"] == item_status
    sdk_response(response)


def test_usage_defaults_and_total() -> None:
    usage = chat_to_response(completion({"content": "x"}, "stop"), CTX)["usage"]
    assert usage == {
        "input_tokens": 3,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 7,
    }


def test_refusal_is_a_refusal_part() -> None:
    response = chat_to_response(completion({"content": None, "refusal": "No."}, "stop"), CTX)
    assert response["output"][0]["content"] == [{"type": "refusal", "refusal": "No."}]
    sdk_response(response)


def test_reasoning_without_summary_or_include_is_an_empty_item() -> None:
    block = {"type": "thinking", "thinking": "t", "signature": "s"}
    message = {"content": "x", "reasoning_content": "t", "thinking_blocks": [block]}
    output = chat_to_response(completion(message, "stop"), CTX)["output"]
    assert output[0] == {"id": "rs_t_0", "type": "reasoning", "summary": []}


MALFORMED: list[Any] = [
    {"choices": "nope"},
    {"choices": [{"message": {"tool_calls": [{"function": "f"}]}, "finish_reason": "stop"}]},
    {"choices": [{"message": "text"}]},
    {"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens_details": 3}},
]


@pytest.mark.parametrize("completion", MALFORMED)
def test_malformed_completion_is_the_providers_fault(completion: Any) -> None:
    with pytest.raises(UpstreamError) as caught:
        chat_to_response(completion, CTX, "compat")
    assert (caught.value.outcome, caught.value.provider) == ("malformed_response", "compat")
