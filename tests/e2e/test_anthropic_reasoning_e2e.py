"""Reasoning round trips through the proxy to the fake Anthropic upstream, with the `openai` SDK.

An agent loop with Claude's extended thinking and tools: the first answer carries a signed
thinking block, a redacted_thinking block and a tool call; the client appends the assistant
message exactly as the SDK hands it over (non-stream: `choices[0].message`; stream: the
message the SDK's stream helper assembles) and the tool result, and asks again. The fake
answers 400, as Anthropic does, unless the thinking blocks come back first in that turn,
byte for byte (tests/fakes/anthropic.py). Tool-call ids written by other providers (Kimi's
`functions.get_weather:0`) must reach Anthropic in its id alphabet, identically in the
tool_use and the tool_result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import FIXTURES, FakeAnthropic

PROVIDER_KEY = "fake-anthropic-key"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ASK = [{"role": "user", "content": "Weather in Paris? [scenario:thinking_tools]"}]
ISSUED = json.loads((FIXTURES / "thinking_tools" / "anthropic_response.json").read_text())
REASONING = [b for b in ISSUED["content"] if b["type"] in ("thinking", "redacted_thinking")]
TOOL_ID = ISSUED["content"][-1]["id"]


@pytest.fixture
def fake() -> FakeAnthropic:
    return FakeAnthropic(api_key=PROVIDER_KEY)


@pytest.fixture
def client(fake: FakeAnthropic, serve: Callable[..., str], start_proxy: Any) -> openai.OpenAI:
    yaml = f"""
providers:
  claude: {{type: anthropic, base_url: "{serve(fake.app())}", api_key: "{PROVIDER_KEY}"}}
models:
  smart:
    - {{provider: claude, model: claude-sonnet-4-5}}
"""
    url = start_proxy(yaml)
    return openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10)


def second_turn(client: openai.OpenAI, assistant: Any) -> openai.types.chat.ChatCompletion:
    result = {"role": "tool", "tool_call_id": TOOL_ID, "content": "18°C, light rain"}
    return client.chat.completions.create(
        model="smart",
        messages=[*ASK, assistant, result],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        reasoning_effort="low",
    )


def replayed_turn(fake: FakeAnthropic) -> list[dict[str, Any]]:
    """The assistant turn the proxy sent back up on the last request."""
    turn = fake.requests[-1].body["messages"][1]
    assert turn["role"] == "assistant"
    content: list[dict[str, Any]] = turn["content"]
    return content


def test_non_stream_message_appended_as_returned(
    client: openai.OpenAI, fake: FakeAnthropic
) -> None:
    first = client.chat.completions.create(
        model="smart",
        messages=ASK,
        tools=[WEATHER],
        reasoning_effort="low",  # type: ignore[list-item]
    )
    message = first.choices[0].message
    answer = second_turn(client, message)
    assert answer.choices[0].message.content == f"Tool results: {TOOL_ID}=18°C, light rain"
    extra = message.model_extra or {}
    assert [b["type"] for b in extra["thinking_blocks"]] == ["thinking", "redacted_thinking"]
    assert [d["type"] for d in extra["reasoning_details"]] == [
        "reasoning.text",
        "reasoning.encrypted",
    ]
    assert replayed_turn(fake)[:2] == REASONING  # first in the turn, byte for byte
    assert [b["type"] for b in replayed_turn(fake)[2:]] == ["text", "tool_use"]


def test_stream_message_assembled_by_the_sdk_helper(
    client: openai.OpenAI, fake: FakeAnthropic
) -> None:
    with client.chat.completions.stream(
        model="smart",
        messages=ASK,
        tools=[WEATHER],
        reasoning_effort="low",  # type: ignore[arg-type]
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    message = final.choices[0].message
    answer = second_turn(client, message)
    assert answer.choices[0].message.content == f"Tool results: {TOOL_ID}=18°C, light rain"
    blocks = (message.model_extra or {})["thinking_blocks"]
    assert [{k: v for k, v in b.items() if k != "index"} for b in blocks] == REASONING
    assert replayed_turn(fake)[:2] == REASONING


@pytest.mark.parametrize("convention", ["thinking_blocks", "reasoning_details"])
def test_either_convention_alone_is_enough(
    client: openai.OpenAI, fake: FakeAnthropic, convention: str
) -> None:
    first = client.chat.completions.create(
        model="smart",
        messages=ASK,
        tools=[WEATHER],
        reasoning_effort="low",  # type: ignore[list-item]
    )
    message = first.choices[0].message.model_dump(exclude_none=True)
    for other in ("thinking_blocks", "reasoning_details", "reasoning_content"):
        if other != convention:
            del message[other]
    second_turn(client, message)
    assert replayed_turn(fake)[:2] == REASONING


def test_without_the_thinking_blocks_anthropic_refuses(
    client: openai.OpenAI, fake: FakeAnthropic
) -> None:
    """The failure the round trip prevents (and proof that the fake checks it)."""
    first = client.chat.completions.create(
        model="smart",
        messages=ASK,
        tools=[WEATHER],
        reasoning_effort="low",  # type: ignore[list-item]
    )
    message = first.choices[0].message.model_dump(exclude_none=True)
    del message["thinking_blocks"], message["reasoning_details"]
    with pytest.raises(openai.BadRequestError) as info:
        second_turn(client, message)
    assert "Expected `thinking` or `redacted_thinking`, but found `text`" in str(info.value)


@pytest.mark.parametrize("stream", [False, True])
def test_foreign_tool_call_ids(client: openai.OpenAI, fake: FakeAnthropic, stream: bool) -> None:
    kimi = ["functions.get_weather:0", "functions.get_weather:1"]
    calls = [
        {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        for i in kimi
    ]
    messages: list[Any] = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": kimi[0], "content": "18°C"},
        {"role": "tool", "tool_call_id": kimi[1], "content": "24°C"},
    ]
    if stream:
        with client.chat.completions.stream(
            model="smart",
            messages=messages,
            tools=[WEATHER],  # type: ignore[arg-type]
        ) as s:
            content = s.get_final_completion().choices[0].message.content
    else:
        answer = client.chat.completions.create(model="smart", messages=messages, tools=[WEATHER])  # type: ignore[list-item]
        content = answer.choices[0].message.content
    sent = fake.requests[-1].body["messages"]
    used = [b["id"] for b in sent[1]["content"]]
    answered = [b["tool_use_id"] for b in sent[2]["content"]]
    assert (
        used == answered == ["idx-functions-2eget_weather-3a0", "idx-functions-2eget_weather-3a1"]
    )
    assert content == "Tool results: " + "; ".join(
        f"{u}={t}" for u, t in zip(used, ["18°C", "24°C"], strict=True)
    )


def test_fake_thinking_tools_scenario_parses_with_the_anthropic_sdk(
    fake: FakeAnthropic, serve: Callable[..., str]
) -> None:
    client = anthropic.Anthropic(api_key=PROVIDER_KEY, base_url=serve(fake.app()), max_retries=0)
    ask: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": ASK,
    }
    message = client.messages.create(**ask)
    with client.messages.stream(**ask) as stream:
        streamed = stream.get_final_message()
    for got in (message, streamed):
        assert [b.model_dump(exclude_none=True) for b in got.content] == ISSUED["content"]
    # The fake judges a replay as Anthropic does: the exact blocks pass, an edited one does not.
    turn = [*ASK, {"role": "assistant", "content": ISSUED["content"]}]
    result = {"type": "tool_result", "tool_use_id": TOOL_ID, "content": "18°C"}
    client.messages.create(**{**ask, "messages": [*turn, {"role": "user", "content": [result]}]})
    edited = [{**REASONING[0], "thinking": REASONING[0]["thinking"] + " "}, *ISSUED["content"][1:]]
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        client.messages.create(
            **{
                **ask,
                "messages": [
                    *ASK,
                    {"role": "assistant", "content": edited},
                    {"role": "user", "content": [result]},
                ],
            }
        )
