"""The proxy on 127.0.0.1 in front of the fake Gemini upstream, driven by the openai SDK.

The client must not be able to tell that Gemini answers: everything below goes through
`openai.OpenAI(base_url=<proxy>/v1)` exactly as users write it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.conftest import CLIENT_KEY
from tests.fakes.gemini import FakeGemini

GEMINI_KEY = "fake-gemini-key"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def yaml_for(url: str) -> str:
    return f"""
providers:
  gem:
    type: gemini
    base_url: {url}
    api_key: "{GEMINI_KEY}"
models:
  flash:
    - {{provider: gem, model: gemini-2.5-flash}}
  pro:
    - {{provider: gem, model: gemini-3-pro-preview}}
"""


@pytest.fixture
def fake() -> FakeGemini:
    return FakeGemini(api_key=GEMINI_KEY)


@pytest.fixture
def client(
    fake: FakeGemini, serve: Callable[..., str], start_proxy: Callable[..., str]
) -> openai.OpenAI:
    proxy_url = start_proxy(yaml_for(serve(fake.app())))
    return openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0)


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def assert_upstream_auth(fake: FakeGemini) -> None:
    """Every upstream request carried the provider key in the header, nowhere else."""
    assert fake.requests
    for sent in fake.requests:
        assert sent.headers["x-goog-api-key"] == GEMINI_KEY
        assert "key=" not in sent.url and GEMINI_KEY not in sent.url
        assert "authorization" not in sent.headers
        assert CLIENT_KEY not in json.dumps(sent.headers) + json.dumps(sent.body) + sent.url


def collect(stream: Any) -> tuple[dict[int, dict[str, Any]], list[Any]]:
    """Stream chunks -> per choice: content, reasoning, tool calls, finish reasons."""
    choices: dict[int, dict[str, Any]] = {}
    chunks = list(stream)
    for chunk in chunks:
        for choice in chunk.choices:
            state = choices.setdefault(
                choice.index, {"content": "", "reasoning": "", "tools": {}, "finish": []}
            )
            delta = choice.delta
            state["content"] += delta.content or ""
            state["reasoning"] += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or ():
                slot = state["tools"].setdefault(call.index, {"id": None, "name": None, "args": ""})
                slot["id"] = call.id or slot["id"]
                slot["name"] = (call.function and call.function.name) or slot["name"]
                slot["args"] += (call.function and call.function.arguments) or ""
            if choice.finish_reason:
                state["finish"].append(choice.finish_reason)
    return choices, chunks


# --- answers -------------------------------------------------------------------------------


def test_non_stream(client: openai.OpenAI, fake: FakeGemini) -> None:
    answer = client.chat.completions.create(
        model="flash",
        messages=[{"role": "system", "content": "Be brief."}, *user("Say hello")],
        temperature=0.3,
        max_completion_tokens=50,
    )
    assert answer.object == "chat.completion" and answer.model == "flash"
    assert answer.id.startswith("chatcmpl")
    choice = answer.choices[0]
    assert choice.message.content == "Hello from fake Gemini."
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 5)
    assert answer.usage.total_tokens == 16
    sent = fake.last
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
    assert sent.body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 50}
    assert_upstream_auth(fake)


def test_stream(client: openai.OpenAI, fake: FakeGemini) -> None:
    stream = client.chat.completions.create(model="flash", messages=user("Say hello"), stream=True)
    choices, chunks = collect(stream)
    assert choices[0]["content"] == "Hello from fake Gemini."
    assert choices[0]["finish"] == ["stop"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(chunk.usage is None for chunk in chunks)
    assert fake.last.path.endswith("/gemini-2.5-flash:streamGenerateContent")
    assert fake.last.query == "alt=sse"
    assert_upstream_auth(fake)


def test_stream_include_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="flash",
        messages=user("Say hello"),
        stream=True,
        stream_options={"include_usage": True},
    )
    choices, chunks = collect(stream)
    assert choices[0]["content"] == "Hello from fake Gemini."
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        11,
        5,
        16,
    )


def test_n_candidates(client: openai.OpenAI, fake: FakeGemini) -> None:
    answer = client.chat.completions.create(model="flash", messages=user("Hi"), n=2)
    assert [c.index for c in answer.choices] == [0, 1]
    assert {c.message.content for c in answer.choices} == {"Hello from fake Gemini."}
    assert fake.last.body["generationConfig"] == {"candidateCount": 2}
    choices, _ = collect(
        client.chat.completions.create(model="flash", messages=user("Hi"), n=2, stream=True)
    )
    assert [choices[i]["finish"] for i in (0, 1)] == [["stop"], ["stop"]]


def test_streaming_tool_calls(client: openai.OpenAI, fake: FakeGemini) -> None:
    stream = client.chat.completions.create(
        model="flash",
        messages=user("Weather in Paris and Tokyo? [scenario:parallel]"),
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        stream=True,
    )
    choices, _ = collect(stream)
    tools = choices[0]["tools"]
    assert sorted(tools) == [0, 1]
    assert [tools[i]["name"] for i in (0, 1)] == ["get_weather", "get_weather"]
    assert [json.loads(tools[i]["args"]) for i in (0, 1)] == [{"city": "Paris"}, {"city": "Tokyo"}]
    assert tools[0]["id"] != tools[1]["id"]
    assert choices[0]["finish"] == ["tool_calls"]  # Gemini said STOP
    declaration = fake.last.body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    assert declaration["parametersJsonSchema"]["properties"] == {"city": {"type": "string"}}
    assert fake.last.body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip_keeps_thought_signatures(
    client: openai.OpenAI, fake: FakeGemini, stream: bool
) -> None:
    """Gemini 3 rejects a replayed function call without its signature (the fake does too);
    the signature travels in the tool-call id through the stateless client."""
    messages: list[Any] = user("Weather in Paris and Tokyo? [scenario:parallel]")
    if stream:
        choices, _ = collect(
            client.chat.completions.create(
                model="pro", messages=messages, tools=[WEATHER_TOOL], stream=True
            )
        )
        tools = choices[0]["tools"]
        calls = [
            {
                "id": tools[i]["id"],
                "type": "function",
                "function": {"name": tools[i]["name"], "arguments": tools[i]["args"]},
            }
            for i in sorted(tools)
        ]
        assistant: Any = {"role": "assistant", "content": None, "tool_calls": calls}
    else:
        answer = client.chat.completions.create(
            model="pro", messages=messages, tools=[WEATHER_TOOL]
        )
        assert answer.choices[0].finish_reason == "tool_calls"
        assistant = answer.choices[0].message.model_dump(exclude_none=True)
        calls = assistant["tool_calls"]
    assert len(calls) == 2
    messages += [
        assistant,
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"temp_c": 18}'},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "sunny"},
    ]
    final = client.chat.completions.create(model="pro", messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].message.content == (
        'Tool said: get_weather={"temp_c":18}; get_weather={"result":"sunny"}'
    )
    model_turn = fake.last.body["contents"][1]
    signature = model_turn["parts"][0]["thoughtSignature"]
    assert base64.b64decode(signature) == base64.b64decode(fake.issued_signatures[0])
    assert "thoughtSignature" not in model_turn["parts"][1]
    assert fake.last.path == "/v1beta/models/gemini-3-pro-preview:generateContent"

    # A client that drops the id (sends its own) loses the signature: Gemini 3 says 400.
    messages[1] = {
        **assistant,
        "tool_calls": [{**c, "id": f"mine-{i}"} for i, c in enumerate(calls)],
    }
    messages[2] = {**messages[2], "tool_call_id": "mine-0"}
    messages[3] = {**messages[3], "tool_call_id": "mine-1"}
    with pytest.raises(openai.BadRequestError, match="thought_signature"):
        client.chat.completions.create(model="pro", messages=messages, tools=[WEATHER_TOOL])


def test_image(client: openai.OpenAI, fake: FakeGemini) -> None:
    answer = client.chat.completions.create(
        model="flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these? [scenario:image]"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    assert answer.choices[0].message.content == "I see 2 image(s)."
    parts = fake.last.body["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert parts[2] == {
        "fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}
    }


class City(BaseModel):
    name: str
    population: int


class Answer(BaseModel):
    city: City
    famous_for: list[str]
    nickname: str | None


def test_parse_with_pydantic(client: openai.OpenAI, fake: FakeGemini) -> None:
    completion = client.chat.completions.parse(
        model="flash", messages=user("Describe Paris. [scenario:json]"), response_format=Answer
    )
    parsed = completion.choices[0].message.parsed
    assert parsed == Answer(
        city=City(name="example", population=42), famous_for=["example"], nickname="example"
    )
    config = fake.last.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]
    assert "$defs" not in json.dumps(schema) and "$ref" not in json.dumps(schema)
    assert schema["properties"]["city"]["properties"]["population"] == {
        "title": "Population",
        "type": "integer",
    }


def test_reasoning(client: openai.OpenAI, fake: FakeGemini) -> None:
    answer = client.chat.completions.create(
        model="flash", messages=user("Think. [scenario:thinking]"), reasoning_effort="low"
    )
    message = answer.choices[0].message
    assert message.content == "The answer is 42."
    assert (message.model_extra or {}).get("reasoning_content") == "Let me think about this."
    assert answer.usage is not None and answer.usage.completion_tokens == 31
    assert answer.usage.completion_tokens_details is not None
    assert answer.usage.completion_tokens_details.reasoning_tokens == 25
    assert fake.last.body["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 1024,
        "includeThoughts": True,
    }
    choices, _ = collect(
        client.chat.completions.create(
            model="flash",
            messages=user("Think. [scenario:thinking]"),
            reasoning_effort="low",
            stream=True,
        )
    )
    assert choices[0]["reasoning"] == "Let me think about this."
    assert choices[0]["content"] == "The answer is 42."


@pytest.mark.parametrize(
    ("scenario", "finish"),
    [("safety", "content_filter"), ("blocked", "content_filter"), ("max_tokens", "length")],
)
def test_finish_reasons(client: openai.OpenAI, scenario: str, finish: str) -> None:
    messages = user(f"[scenario:{scenario}]")
    answer = client.chat.completions.create(model="flash", messages=messages)
    assert answer.choices[0].finish_reason == finish
    choices, _ = collect(
        client.chat.completions.create(model="flash", messages=messages, stream=True)
    )
    assert choices[0]["finish"] == [finish]
    assert choices[0]["content"] == (answer.choices[0].message.content or "")


def test_unsupported_parameter_is_a_clear_400(client: openai.OpenAI, fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="flash", messages=user("hi"), logit_bias={"1": 5})
    assert "logit_bias" in info.value.message and "'gem'" in info.value.message
    assert not fake.requests


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("error_400", openai.BadRequestError, 400),
        ("error_404", openai.NotFoundError, 404),
        ("error_429", openai.RateLimitError, 429),
        ("error_403", openai.InternalServerError, 502),
        ("error_500", openai.InternalServerError, 502),
        ("error_503", openai.InternalServerError, 502),
        ("error_504", openai.InternalServerError, 502),
    ],
)
def test_upstream_errors(
    client: openai.OpenAI,
    fake: FakeGemini,
    scenario: str,
    error: type[openai.APIStatusError],
    status: int,
    stream: bool,
) -> None:
    with pytest.raises(error) as info:
        result = client.chat.completions.create(
            model="flash", messages=user(f"[scenario:{scenario}]"), stream=stream
        )
        list(result) if stream else None  # type: ignore[call-overload]
    assert info.value.status_code == status
    message = info.value.message
    if status == 400:
        assert "the fake rejects this request" in message  # Gemini's own words
        assert info.value.code == "INVALID_ARGUMENT"
    elif status == 404:
        assert "is not found for API version" in message
    elif status == 429:
        assert "flash" in message and "rate_limited" in message
        assert info.value.response.headers.get("retry-after") == "7"
    else:
        assert "All deployments of model 'flash' failed" in message
    assert GEMINI_KEY not in message
    assert_upstream_auth(fake)


def test_wrong_provider_key_is_not_the_clients_fault(
    serve: Callable[..., str], start_proxy: Callable[..., str]
) -> None:
    fake = FakeGemini(api_key="the-real-key")
    proxy_url = start_proxy(yaml_for(serve(fake.app())))
    client = openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="flash", messages=user("hi"))
    assert info.value.status_code == 502 and "auth_failed" in info.value.message
    assert GEMINI_KEY not in info.value.message


@pytest.mark.parametrize("scenario", ["truncated", "stream_error"])
def test_stream_failure_after_commit_is_an_error_event(
    client: openai.OpenAI, scenario: str
) -> None:
    stream = client.chat.completions.create(
        model="flash", messages=user(f"[scenario:{scenario}]"), stream=True
    )
    seen = ""
    with pytest.raises(openai.APIError):
        for chunk in stream:
            for choice in chunk.choices:
                seen += choice.delta.content or ""
                assert choice.finish_reason is None  # never a clean finish
    assert seen.startswith("Hello")
