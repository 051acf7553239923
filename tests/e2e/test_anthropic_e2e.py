"""The proxy on 127.0.0.1 in front of the fake Anthropic upstream, driven by the official
`openai` SDK exactly as users do. Scenarios are picked with `[scenario:<name>]` markers in the
last user message (see tests/fakes/anthropic.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import FakeAnthropic

PROVIDER_KEY = "fake-anthropic-key"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
LOCATION = {"type": "function", "function": {"name": "get_user_location"}}


def yaml_for(url: str, drop_unsupported: bool = False) -> str:
    return f"""
providers:
  claude:
    type: anthropic
    base_url: {url}
    api_key: "{PROVIDER_KEY}"
    drop_unsupported: {str(drop_unsupported).lower()}
models:
  smart:
    - {{provider: claude, model: claude-sonnet-4-5}}
"""


@pytest.fixture
def fake() -> FakeAnthropic:
    return FakeAnthropic(api_key=PROVIDER_KEY)


@pytest.fixture
def fake_url(fake: FakeAnthropic, serve: Callable[..., str]) -> str:
    return serve(fake.app())


@pytest.fixture
def client(fake_url: str, start_proxy: Callable[..., str]) -> openai.OpenAI:
    proxy_url = start_proxy(yaml_for(fake_url))
    return openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10)


def say(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def assert_provider_credentials(fake: FakeAnthropic) -> None:
    assert fake.requests
    for received in fake.requests:
        assert received.headers["x-api-key"] == PROVIDER_KEY
        assert received.headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in received.headers
        assert CLIENT_KEY not in json.dumps(received.headers)
        assert CLIENT_KEY not in json.dumps(received.body)


def collect(stream: Any) -> dict[str, Any]:
    """Reassemble a Chat Completions stream as a client would."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finishes: list[str] = []
    usage = None
    chunks = 0
    for chunk in stream:
        chunks += 1
        assert chunk.object == "chat.completion.chunk"
        assert chunk.model == "smart"
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
        for choice in chunk.choices:
            delta = choice.delta
            content.append(delta.content or "")
            reasoning.append((delta.model_extra or {}).get("reasoning_content") or "")
            for call in delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                if call.id:
                    slot["id"] = call.id
                if call.function and call.function.name:
                    slot["name"] = call.function.name
                if call.function and call.function.arguments:
                    slot["arguments"] += call.function.arguments
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "calls": [calls[i] for i in sorted(calls)],
        "finishes": finishes,
        "usage": usage,
        "chunks": chunks,
    }


# --- answers ---------------------------------------------------------------------------------


def test_non_stream(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    answer = client.chat.completions.create(model="smart", messages=say("Say hello."))
    assert answer.object == "chat.completion"
    assert answer.model == "smart"
    assert answer.id.startswith("chatcmpl-")
    choice = answer.choices[0]
    assert choice.message.content == "Hello! How can I help you today?"
    assert choice.message.role == "assistant"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (10, 12)
    assert answer.usage.total_tokens == 22
    assert_provider_credentials(fake)
    sent = fake.requests[0].body
    assert sent["model"] == "claude-sonnet-4-5"
    assert sent["max_tokens"] == 4096
    assert "stream" not in sent


def test_stream_with_usage(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    stream = client.chat.completions.create(
        model="smart",
        messages=say("Say hello."),
        stream=True,
        stream_options={"include_usage": True},
    )
    got = collect(stream)
    assert got["content"] == "Hello! How can I help you today?"
    assert got["finishes"] == ["stop"]
    assert got["usage"] is not None and got["usage"].total_tokens == 22
    assert fake.requests[0].body["stream"] is True
    assert_provider_credentials(fake)


def test_stream_without_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="smart", messages=say("Hi"), stream=True)
    got = collect(stream)
    assert got["usage"] is None
    assert got["finishes"] == ["stop"]


def test_usage_with_cache(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="smart", messages=say("[scenario:usage_cache]"))
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == 2050
    assert answer.usage.prompt_tokens_details is not None
    assert answer.usage.prompt_tokens_details.cached_tokens == 1800


def test_tool_call_non_stream(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    answer = client.chat.completions.create(
        model="smart", messages=say("Weather in Paris? [scenario:tools]"), tools=[WEATHER]
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I'll look up the weather in Paris."
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id == "toolu_01WeatherParis"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert fake.requests[0].body["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]


def test_streaming_tool_calls_reassemble_into_json(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="smart",
        messages=say("Weather in Paris? [scenario:tools]"),
        tools=[WEATHER],
        stream=True,
    )
    got = collect(stream)
    assert got["finishes"] == ["tool_calls"]
    assert got["content"] == "I'll look up the weather in Paris."
    (call,) = got["calls"]
    assert (call["id"], call["name"]) == ("toolu_01WeatherParis", "get_weather")
    assert json.loads(call["arguments"]) == {"city": "Paris", "unit": "celsius"}


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls(client: openai.OpenAI, stream: bool) -> None:
    kwargs: dict[str, Any] = {
        "model": "smart",
        "messages": say("Weather and time here and in Tokyo [scenario:parallel_tools]"),
        "tools": [WEATHER, TIME, LOCATION],
    }
    expected = [
        ("toolu_01Location", "get_user_location", {}),
        ("toolu_02WeatherTokyo", "get_weather", {"city": "Tokyo"}),
        ("toolu_03TimeTokyo", "get_time", {"city": "Tokyo"}),
    ]
    if stream:
        got = collect(client.chat.completions.create(**kwargs, stream=True))
        assert got["finishes"] == ["tool_calls"]
        calls = [(c["id"], c["name"], json.loads(c["arguments"])) for c in got["calls"]]
    else:
        message = client.chat.completions.create(**kwargs).choices[0].message
        assert message.content is None
        calls = [
            (c.id, c.function.name, json.loads(c.function.arguments))
            for c in message.tool_calls or []
        ]
    assert calls == expected


def test_tool_result_round_trip(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    first = client.chat.completions.create(
        model="smart",
        messages=say("Weather in Paris? [scenario:tools]"),
        tools=[WEATHER],
    )
    message = first.choices[0].message
    (call,) = message.tool_calls or []
    history: list[Any] = [
        *say("Weather in Paris? [scenario:tools]"),
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18°C, light rain"},
    ]
    second = client.chat.completions.create(model="smart", messages=history, tools=[WEATHER])
    assert (
        second.choices[0].message.content == "Tool results: toolu_01WeatherParis=18°C, light rain"
    )
    assert second.choices[0].finish_reason == "stop"
    sent = fake.requests[1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_01WeatherParis",
        "name": "get_weather",
        "input": {"city": "Paris", "unit": "celsius"},
    }
    assert sent[2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_01WeatherParis",
            "content": "18°C, light rain",
        }
    ]


def test_image(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    answer = client.chat.completions.create(
        model="smart",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare [scenario:image]"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    assert "cat" in (answer.choices[0].message.content or "")
    blocks = fake.requests[0].body["messages"][0]["content"]
    assert blocks[1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


def test_parse_with_pydantic_model(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    completion = client.chat.completions.parse(
        model="smart",
        messages=[
            {"role": "system", "content": "Extract the event information."},
            {
                "role": "user",
                "content": "Alice and Bob: science fair, Friday [scenario:json_schema]",
            },
        ],
        response_format=CalendarEvent,
    )
    message = completion.choices[0].message
    assert message.parsed == CalendarEvent(
        name="Science fair", date="Friday", participants=["Alice", "Bob"]
    )
    assert message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"
    sent = fake.requests[0].body
    assert sent["tool_choice"] == {"type": "tool", "name": "respond_with_json"}
    assert sent["tools"][0]["input_schema"]["title"] == "CalendarEvent"


def test_streamed_parse_with_pydantic_model(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="smart",
        messages=say("Alice and Bob: science fair, Friday [scenario:json_schema]"),
        response_format=CalendarEvent,
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == CalendarEvent(
        name="Science fair", date="Friday", participants=["Alice", "Bob"]
    )


def test_reasoning(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    answer = client.chat.completions.create(
        model="smart",
        messages=say("Is 1001 prime? [scenario:thinking]"),
        reasoning_effort="medium",
        max_completion_tokens=8000,
    )
    message = answer.choices[0].message
    assert message.content == "No. 1001 = 7 \u00d7 11 \u00d7 13."  # multiplication signs
    assert "7 * 11 * 13" in (message.model_extra or {})["reasoning_content"]
    assert answer.usage is not None and answer.usage.completion_tokens_details is not None
    assert answer.usage.completion_tokens_details.reasoning_tokens == 70
    assert fake.requests[0].body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    got = collect(
        client.chat.completions.create(
            model="smart",
            messages=say("Is 1001 prime? [scenario:thinking]"),
            reasoning_effort="medium",
            max_completion_tokens=8000,
            stream=True,
        )
    )
    assert got["reasoning"] == message.model_extra["reasoning_content"]  # type: ignore[index]
    assert got["content"] == message.content


@pytest.mark.parametrize(
    ("scenario", "finish"),
    [("max_tokens", "length"), ("stop_sequence", "stop"), ("refusal", "content_filter")],
)
def test_finish_reasons(client: openai.OpenAI, scenario: str, finish: str) -> None:
    answer = client.chat.completions.create(model="smart", messages=say(f"[scenario:{scenario}]"))
    assert answer.choices[0].finish_reason == finish
    got = collect(
        client.chat.completions.create(
            model="smart", messages=say(f"[scenario:{scenario}]"), stream=True
        )
    )
    assert got["finishes"] == [finish]


# --- parameters ------------------------------------------------------------------------------


def test_unsupported_parameter_is_a_400(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="smart", messages=say("Hi"), n=2)
    assert "'n'" in info.value.message and "'claude'" in info.value.message
    assert info.value.param == "n"
    assert fake.requests == []


def test_drop_unsupported(
    fake: FakeAnthropic, fake_url: str, start_proxy: Callable[..., str]
) -> None:
    proxy_url = start_proxy(yaml_for(fake_url, drop_unsupported=True))
    client = openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    answer = client.chat.completions.create(
        model="smart", messages=say("Hi"), seed=7, logprobs=True, presence_penalty=0.5
    )
    assert answer.choices[0].message.content == "Hello! How can I help you today?"
    assert set(fake.requests[0].body) == {"model", "max_tokens", "messages"}


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("error_400", openai.BadRequestError, 400),
        ("error_401", openai.InternalServerError, 502),
        ("error_403", openai.InternalServerError, 502),
        ("error_404", openai.NotFoundError, 404),
        ("error_413", openai.APIStatusError, 413),
        ("error_429", openai.RateLimitError, 429),
        ("error_500", openai.InternalServerError, 502),
        ("error_529", openai.InternalServerError, 502),
    ],
)
def test_upstream_errors_arrive_typed(
    client: openai.OpenAI,
    fake: FakeAnthropic,
    scenario: str,
    error: type[openai.APIStatusError],
    status: int,
    stream: bool,
) -> None:
    with pytest.raises(error) as info:
        result = client.chat.completions.create(
            model="smart", messages=say(f"[scenario:{scenario}]"), stream=stream
        )
        if stream:
            collect(result)
    assert info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict)
    if status in (502, 429):
        # One deployment only: the proxy's all-deployments-failed answer.
        assert "All deployments of model 'smart' failed" in info.value.message
    assert PROVIDER_KEY not in info.value.message
    assert_provider_credentials(fake)


def test_bad_request_carries_the_upstream_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="smart", messages=say("[scenario:error_400]"))
    assert "image appears to be a image/jpeg image" in info.value.message
    assert info.value.code == "invalid_request_error"


def test_rate_limit_keeps_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="smart", messages=say("[scenario:error_429]"))
    assert info.value.response.headers.get("retry-after") == "12"


@pytest.mark.parametrize("scenario", ["stream_error", "truncated"])
def test_failure_after_the_stream_started(client: openai.OpenAI, scenario: str) -> None:
    stream = client.chat.completions.create(
        model="smart", messages=say(f"[scenario:{scenario}]"), stream=True
    )
    received: list[str] = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            for choice in chunk.choices:
                received.append(choice.delta.content or "")
                assert choice.finish_reason is None
    assert "".join(received).startswith("Hello!")
