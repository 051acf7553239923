"""proxy/providers/gemini/request.py: Chat Completions body -> generateContent body."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest

from proxy.errors import ProxyError
from proxy.providers.gemini import to_gemini_request
from proxy.providers.gemini.request import RequestOptions
from proxy.request import parse_chat_request
from tests.providers.gemini.golden import FIXTURES, OPTIONS, SUCCESS_CASES, body, load


def case_options(case: str) -> RequestOptions:
    path = FIXTURES / case / "case.json"
    extra = json.loads(path.read_text()) if path.exists() else {}
    return RequestOptions(provider="gem", **extra)


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_request_translation(case: str) -> None:
    request = load(case, "openai_request.json")
    parse_chat_request(orjson.dumps(request))  # the fixture is a request the proxy accepts
    before = copy.deepcopy(request)
    assert to_gemini_request(request, case_options(case)) == load(case, "gemini_request.json")
    assert request == before  # the client's body is never mutated


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"web_search_options": {"search_context_size": "low"}}, "web_search_options"),
        ({"verbosity": "low"}, "verbosity"),
        (
            {
                "parallel_tool_calls": False,
                "tools": [{"type": "function", "function": {"name": "f"}}],
            },
            "parallel_tool_calls",
        ),
        ({"service_tier": "flex"}, "service_tier"),
        ({"tools": [{"type": "custom", "custom": {"name": "grammar"}}]}, "tools[0].type"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "auto", "tools": []},
                },
            },
            "tool_choice",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}
                ]
            },
            "messages[0].content[0].file.file_id",
        ),
        ({"totally_new_parameter": 1}, "totally_new_parameter"),
    ],
)
def test_unsupported_parameters(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ProxyError) as info:
        to_gemini_request(body(**fields), OPTIONS)
    error = info.value
    assert error.status == 400 and error.code == "unsupported_parameter"
    assert error.param == param
    assert f"'{param}'" in error.message and "'gem'" in error.message
    # With drop_unsupported the parameter is ignored and the request goes through.
    dropped = to_gemini_request(
        body(**fields), RequestOptions(provider="gem", drop_unsupported=True)
    )
    assert "contents" in dropped


def test_unsupported_reasoning_effort_value() -> None:
    with pytest.raises(ProxyError) as info:
        to_gemini_request(body(reasoning_effort="max"), OPTIONS)
    assert info.value.code == "unsupported_value" and info.value.param == "reasoning_effort"
    assert "'gem'" in info.value.message
    dropped = to_gemini_request(body(reasoning_effort="max"), RequestOptions(drop_unsupported=True))
    assert "generationConfig" not in dropped


def test_ignored_and_null_parameters_pass() -> None:
    fields = {
        "user": "u",
        "metadata": {"a": "b"},
        "store": False,
        "safety_identifier": "s",
        "prompt_cache_key": "k",
        "service_tier": "auto",
        "logit_bias": None,
        "audio": None,
        "functions": [],
        "parallel_tool_calls": True,
        "modalities": ["text"],
        "stream": False,
    }
    assert to_gemini_request(body(**fields), OPTIONS) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
    }


@pytest.mark.parametrize(
    ("effort", "style", "config"),
    [
        ("none", "budget", {"thinkingBudget": 0}),
        ("minimal", "budget", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("low", "budget", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("medium", "budget", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("high", "budget", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("none", "level", {"thinkingLevel": "MINIMAL"}),
        ("minimal", "level", {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
        ("high", "level", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("xhigh", "level", {"thinkingLevel": "XHIGH", "includeThoughts": True}),
    ],
)
def test_reasoning_effort(effort: str, style: Any, config: dict[str, Any]) -> None:
    options = RequestOptions(provider="gem", thinking_style=style)
    request = to_gemini_request(body(reasoning_effort=effort), options)
    assert request["generationConfig"]["thinkingConfig"] == config


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "f"}},
            {"mode": "ANY", "allowedFunctionNames": ["f"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    request = to_gemini_request(body(tools=tools, tool_choice=choice), OPTIONS)
    assert request["toolConfig"] == {"functionCallingConfig": config}
    assert request["tools"] == [{"functionDeclarations": [{"name": "f"}]}]


def test_generation_config_details() -> None:
    request = to_gemini_request(body(stop=["a", "b"], max_tokens=7, logprobs=True), OPTIONS)
    assert request["generationConfig"] == {
        "maxOutputTokens": 7,
        "stopSequences": ["a", "b"],
        "responseLogprobs": True,
    }
    json_mode = to_gemini_request(body(response_format={"type": "json_object"}), OPTIONS)
    assert json_mode["generationConfig"] == {"responseMimeType": "application/json"}
