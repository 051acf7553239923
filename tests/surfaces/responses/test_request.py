"""proxy/surfaces/responses/request.py (with items.py, tools.py): Responses request -> Chat."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from proxy.errors import ProxyError
from proxy.request import parse_chat_request
from proxy.surfaces.responses.request import responses_to_chat
from tests.surfaces.responses.golden import CASES, CREATED_AT, RESPONSE_ID, load


def translate(body: dict[str, Any]) -> dict[str, Any]:
    return responses_to_chat(body, RESPONSE_ID, CREATED_AT).chat


@pytest.mark.parametrize("case", CASES)
def test_golden_request(case: str) -> None:
    chat = translate(load(case, "request.json"))
    assert chat == load(case, "chat_request.json")
    # The internal request is one the chat path accepts as it is.
    parsed = parse_chat_request(orjson.dumps(chat))
    assert parsed.stream is (load(case, "request.json").get("stream") is True)
    assert parsed.include_usage is parsed.stream


def test_codex_request_context() -> None:
    translated = responses_to_chat(load("codex_tool_loop", "request.json"), "resp_x", 1)
    ctx = translated.context
    assert translated.stream
    assert ctx.summary and ctx.encrypted
    assert dict(ctx.namespaced) == {
        "mcp__docs__search": ("mcp__docs__", "search"),
        "mcp__docs__list_pages": ("mcp__docs__", "list_pages"),
    }


def test_codex_developer_messages_stay_first_and_in_order() -> None:
    messages = translate(load("codex_tool_loop", "request.json"))["messages"]
    assert [m["role"] for m in messages[:2]] == ["developer", "developer"]
    assert messages[0]["content"][0]["text"].startswith("You are Codex")


def test_instructions_become_the_leading_system_message() -> None:
    chat = translate({"model": "m", "input": "hi", "instructions": "Be brief."})
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


def test_named_tool_choice_and_json_object() -> None:
    body = {
        "model": "m",
        "input": "x",
        "tools": [{"type": "function", "name": "f"}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_object"}},
    }
    chat = translate(body)
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat["response_format"] == {"type": "json_object"}


def test_nulls_mean_absent() -> None:
    body = {"model": "m", "input": "x", "previous_response_id": None, "store": None,
            "temperature": None, "reasoning": None, "text": None, "tool_choice": None}  # fmt: skip
    assert translate(body) == {"model": "m", "messages": [{"role": "user", "content": "x"}]}


BASE: dict[str, Any] = {"model": "m", "input": "hi"}

# (what the request adds or replaces, the `param` the 400 names, the code)
REJECTED: list[tuple[dict[str, Any], str, str]] = [
    ({"previous_response_id": "resp_123"}, "previous_response_id", "unsupported_parameter"),
    ({"store": True}, "store", "unsupported_parameter"),
    ({"background": True}, "background", "unsupported_parameter"),
    ({"truncation": "auto"}, "truncation", "unsupported_parameter"),
    ({"conversation": "conv_1"}, "conversation", "unsupported_parameter"),
    ({"max_tool_calls": 3}, "max_tool_calls", "unsupported_parameter"),
    ({"frobnicate": 1}, "frobnicate", "unknown_parameter"),
    ({"text": {"format": {"type": "text"}, "colour": "red"}}, "text.colour", "unknown_parameter"),
    ({"reasoning": {"effort": "low", "budget": 1}}, "reasoning.budget", "unknown_parameter"),
    ({"include": ["message.output_text.logprobs"]}, "include[0]", "unsupported_value"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_tool_type"),
    ({"tools": [{"type": "function", "name": "f"}, {"type": "file_search"}]}, "tools[1].type",
     "unsupported_tool_type"),
    ({"tools": [{"type": "namespace", "name": "n", "description": "d",
                 "tools": [{"type": "custom", "name": "c"}]}]}, "tools[0].tools[0].type",
     "unsupported_tool_type"),
    ({"tools": [{"type": "function", "name": "f", "defer_loading": True}]},
     "tools[0].defer_loading", "unsupported_parameter"),
    ({"tools": [{"type": "function", "name": "a__b"},
                {"type": "namespace", "name": "a", "description": "d",
                 "tools": [{"type": "function", "name": "b"}]}]}, "tools", "duplicate_tool_name"),
    ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice", "unsupported_value"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "unsupported_value"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type", "unsupported_value"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
     "input[0].content[0].type", "unsupported_value"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
     "input[0].content[0].image_url", "unsupported_value"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", "invalid_value"),
    ({"input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
     "input[0].arguments", "invalid_type"),
    ({"input": 7}, "input", "invalid_type"),
    ({"text": {"format": {"type": "grammar"}}}, "text.format.type", "invalid_value"),
    ({"instructions": ["x"]}, "instructions", "invalid_type"),
    ({"max_output_tokens": "many"}, "max_output_tokens", "invalid_type"),
    ({"max_output_tokens": 0}, "max_output_tokens", "invalid_type"),
    ({"reasoning": {"effort": 3}}, "reasoning.effort", "invalid_type"),
    ({"text": {"verbosity": 1}}, "text.verbosity", "invalid_type"),
    ({"tool_choice": {"type": "function"}}, "tool_choice.name", "invalid_type"),
    ({"tools": [{"type": "namespace", "name": "n", "description": "d", "tools": 1}]},
     "tools[0].tools", "invalid_type"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "param", "code"), REJECTED)
def test_rejected_with_a_400_naming_the_field(
    change: dict[str, Any], param: str, code: str
) -> None:
    with pytest.raises(ProxyError) as caught:
        translate({**copy.deepcopy(BASE), **change})
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, param, code)
    assert caught.value.type == "invalid_request_error"


@pytest.mark.parametrize("field", ["model", "input"])
def test_missing_required(field: str) -> None:
    body = dict(BASE)
    del body[field]
    with pytest.raises(ProxyError) as caught:
        translate(body)
    assert caught.value.param == field
