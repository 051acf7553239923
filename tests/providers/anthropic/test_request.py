"""proxy/providers/anthropic/request.py: Chat Completions body -> Messages body."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from proxy.errors import ProxyError
from proxy.providers.anthropic import AnthropicAdapter, to_anthropic_request
from proxy.providers.anthropic.request import RequestOptions
from proxy.request import parse_chat_request
from tests.providers.anthropic.golden import (
    BASE,
    CASES,
    CTX,
    CTX_USAGE,
    load,
    provider,
    rejected,
    translate,
)


@pytest.mark.parametrize("case", CASES)
def test_request(case: str) -> None:
    assert to_anthropic_request(load(case, "openai_request.json"), CTX) == load(
        case, "anthropic_request.json"
    )


@pytest.mark.parametrize("case", CASES)
def test_stream_request_sets_stream(case: str) -> None:
    body = {**load(case, "openai_request.json"), "stream": True}
    body["stream_options"] = {"include_usage": True}
    expected = {**load(case, "anthropic_request.json"), "stream": True}
    assert to_anthropic_request(body, CTX_USAGE) == expected


UNSUPPORTED = [
    ("n", 2),
    ("logprobs", True),
    ("top_logprobs", 3),
    ("logit_bias", {"50256": -100}),
    ("presence_penalty", 0.5),
    ("frequency_penalty", -0.5),
    ("seed", 42),
    ("audio", {"voice": "alloy", "format": "wav"}),
    ("modalities", ["text", "audio"]),
    ("prediction", {"type": "content", "content": "x"}),
    ("web_search_options", {}),
    ("functions", [{"name": "f", "parameters": {"type": "object"}}]),
    ("function_call", "auto"),
    ("some_unknown_parameter", 1),
]


@pytest.mark.parametrize(("param", "value"), UNSUPPORTED)
def test_unsupported_parameter_is_a_400(param: str, value: Any) -> None:
    with pytest.raises(ProxyError) as info:
        to_anthropic_request({**BASE, param: value}, CTX, RequestOptions("claude"))
    error = info.value
    assert (error.status, error.type, error.param) == (400, "invalid_request_error", param)
    assert error.code == "unsupported_parameter"
    assert f"'{param}'" in error.message and "'claude'" in error.message
    assert "drop_unsupported" in error.message


@pytest.mark.parametrize(("param", "value"), UNSUPPORTED)
def test_drop_unsupported(param: str, value: Any) -> None:
    adapter = AnthropicAdapter("claude", provider(drop_unsupported=True))
    req = parse_chat_request(orjson.dumps({**BASE, param: value}))
    body = orjson.loads(adapter.build_request(req, CTX).body)
    assert body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n", 1),
        ("logprobs", False),
        ("top_logprobs", 0),
        ("logit_bias", {}),
        ("presence_penalty", 0),
        ("frequency_penalty", 0.0),
        ("modalities", ["text"]),
        ("seed", None),
        ("store", True),
        ("metadata", {"a": "b"}),
        ("service_tier", "auto"),
        ("stream_options", {"include_usage": True}),
        ("prompt_cache_key", "k"),
        ("verbosity", "low"),
    ],
)
def test_harmless_parameters_are_dropped_silently(param: str, value: Any) -> None:
    body = to_anthropic_request({**BASE, param: value}, CTX)
    assert body == to_anthropic_request(BASE, CTX)


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", None),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    assert translate(tools=[TOOL], tool_choice=choice).get("tool_choice") == expected


def test_parallel_tool_calls_false_with_named_and_none_choice() -> None:
    named = {"type": "function", "function": {"name": "f"}}
    assert translate(tools=[TOOL], tool_choice=named, parallel_tool_calls=False)["tool_choice"] == {
        "type": "tool",
        "name": "f",
        "disable_parallel_tool_use": True,
    }
    choice = translate(tools=[TOOL], tool_choice="none", parallel_tool_calls=False)["tool_choice"]
    assert choice == {"type": "none"}


def test_tool_choice_without_tools_is_ignored() -> None:
    assert translate(tool_choice="required", parallel_tool_calls=False) == translate()


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tools = translate(tools=[{"type": "function", "function": {"name": "ping"}}])["tools"]
    assert tools == [{"name": "ping", "input_schema": {"type": "object", "properties": {}}}]


def test_bad_tool_choice_and_tool_types() -> None:
    assert rejected(tools=[TOOL], tool_choice={"type": "allowed_tools"}).param == "tool_choice"
    assert rejected(tools=[TOOL], tool_choice={"type": "function"}).param == "tool_choice"
    custom = {"type": "custom", "custom": {"name": "grammar"}}
    assert rejected(tools=[custom]).param == "tools[0].type"


def test_json_object_mode() -> None:
    body = translate(response_format={"type": "json_object"})
    assert body["tools"][0]["name"] == "respond_with_json"
    assert body["tools"][0]["input_schema"] == {"type": "object", "additionalProperties": True}
    assert body["tool_choice"] == {"type": "tool", "name": "respond_with_json"}


def test_text_response_format_changes_nothing() -> None:
    assert translate(response_format={"type": "text"}) == translate()


def test_json_mode_with_client_tools_forces_some_tool() -> None:
    body = translate(tools=[TOOL], response_format={"type": "json_object"})
    assert [t["name"] for t in body["tools"]] == ["f", "respond_with_json"]
    assert body["tool_choice"] == {"type": "any"}
    none = translate(tools=[TOOL], tool_choice="none", response_format={"type": "json_object"})
    assert none["tool_choice"] == {"type": "tool", "name": "respond_with_json"}
    named = {"type": "function", "function": {"name": "f"}}
    body = translate(tools=[TOOL], tool_choice=named, response_format={"type": "json_object"})
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    bad = {"type": "allowed_tools"}
    assert (
        rejected(tools=[TOOL], tool_choice=bad, response_format={"type": "json_object"}).param
        == "tool_choice"
    )


def test_json_tool_name_is_reserved() -> None:
    tool = {"type": "function", "function": {"name": "respond_with_json"}}
    assert rejected(tools=[tool]).param == "tools[0].function.name"


def test_json_mode_with_reasoning_is_a_400() -> None:
    error = rejected(response_format={"type": "json_object"}, reasoning_effort="low")
    assert error.param == "response_format"


@pytest.mark.parametrize(
    ("fields", "max_tokens", "budget"),
    [
        ({"reasoning_effort": "low"}, 4096 + 2048, 2048),
        ({"reasoning_effort": "high", "max_tokens": 3000}, 3000, 2999),
        ({"reasoning_effort": "minimal", "max_completion_tokens": 1025}, 1025, 1024),
        ({"reasoning_effort": "none", "max_tokens": 10}, 10, None),
    ],
)
def test_reasoning_budget_stays_below_max_tokens(
    fields: dict[str, Any], max_tokens: int, budget: int | None
) -> None:
    body = translate(**fields)
    assert body["max_tokens"] == max_tokens
    assert body.get("thinking") == (budget and {"type": "enabled", "budget_tokens": budget})


def test_reasoning_with_too_small_max_tokens_is_a_400() -> None:
    error = rejected(reasoning_effort="low", max_completion_tokens=1024)
    assert error.param == "max_completion_tokens"
    assert "1024" in error.message and "reasoning_effort" in error.message
    assert rejected(reasoning_effort="extreme").param == "reasoning_effort"


def test_temperature_above_anthropic_range_is_a_400_not_a_clamp() -> None:
    assert translate(temperature=1)["temperature"] == 1
    assert rejected(temperature=1.5).param == "temperature"


def test_stop_string_and_user_fields() -> None:
    assert translate(stop="END")["stop_sequences"] == ["END"]
    assert "stop_sequences" not in translate(stop=[])
    assert translate(user="u1")["metadata"] == {"user_id": "u1"}
    assert translate(user="u1", safety_identifier="s1")["metadata"] == {"user_id": "s1"}


def test_translation_does_not_mutate_the_body() -> None:
    body = load("tool_result_round_trip", "openai_request.json")
    before = json.dumps(body, sort_keys=True)
    to_anthropic_request(body, CTX)
    assert json.dumps(body, sort_keys=True) == before
