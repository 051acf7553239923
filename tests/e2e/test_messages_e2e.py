"""POST /v1/messages end to end: the real proxy on 127.0.0.1 in front of fake upstreams of
all three kinds, driven by the official `anthropic` SDK as Claude Code and SDK users do.

`claude` routes to the fake Anthropic (passthrough), `gpt` to the fake OpenAI and `gem` to
the fake Gemini (both translated through Chat Completions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import COUNTED_TOKENS, FIXTURES, FakeAnthropic
from tests.fakes.formats import GEMINI_KEY
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI

ANTHROPIC_KEY = "fake-anthropic-key"
VERSION = {"anthropic-version": "2023-06-01"}  # what the client says, whatever the SDK's default
STREAMED = {"gpt": "w0 w1 w2 w3 w4 "}
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@dataclass
class Setup:
    url: str
    claude: FakeAnthropic
    gpt: FakeOpenAI
    gem: FakeGemini

    def client(self, **extra: Any) -> anthropic.Anthropic:
        options: dict[str, Any] = {"api_key": CLIENT_KEY, **extra}
        return anthropic.Anthropic(base_url=self.url, max_retries=0, timeout=10, **options)


@pytest.fixture
def setup(serve: Callable[..., str], start_proxy: Callable[..., str]) -> Setup:
    claude, gpt, gem = FakeAnthropic(api_key=ANTHROPIC_KEY), FakeOpenAI(), FakeGemini(GEMINI_KEY)
    urls = [serve(fake.app()) for fake in (claude, gpt, gem)]
    yaml = f"""
providers:
  anthropic:
    type: anthropic
    base_url: {urls[0]}
    api_key: "{ANTHROPIC_KEY}"
  openai:
    type: openai
    base_url: {urls[1]}/v1
    api_key: "fake-openai-key"
  gemini:
    type: gemini
    base_url: {urls[2]}
    api_key: "{GEMINI_KEY}"
models:
  claude:
    - {{provider: anthropic, model: claude-sonnet-4-5-20250929}}
  gpt:
    - {{provider: openai, model: gpt-4o}}
  gem:
    - {{provider: gemini, model: gemini-2.5-flash}}
"""
    return Setup(start_proxy(yaml), claude, gpt, gem)


def say(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("model", ["claude", "gpt", "gem"])
def test_create_and_stream_agree(setup: Setup, model: str) -> None:
    client = setup.client()
    message = client.messages.create(model=model, max_tokens=256, messages=say("Hello"))
    assert message.type == "message" and message.role == "assistant"
    assert message.stop_reason == "end_turn"
    assert message.content and message.content[0].type == "text"
    assert message.usage.output_tokens > 0
    with client.messages.stream(model=model, max_tokens=256, messages=say("Hello")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    # The fake OpenAI streams other words than it answers whole (tests/fakes/openai.py).
    expected = STREAMED.get(model, message.content[0].text)  # type: ignore[union-attr]
    assert text == expected
    assert [b.model_dump() for b in final.content] == [
        {"type": "text", "text": expected, "citations": None}
    ]
    assert final.stop_reason == message.stop_reason
    if model not in STREAMED:
        assert final.usage.output_tokens == message.usage.output_tokens


def test_passthrough_keeps_model_name_headers_and_key(setup: Setup) -> None:
    client = setup.client(auth_token=CLIENT_KEY, api_key=None)  # Authorization: Bearer
    message = client.messages.create(
        model="claude",
        max_tokens=64,
        messages=say("Hello"),
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14", **VERSION},
    )
    assert message.content
    sent = setup.claude.requests[-1]
    assert sent.body["model"] == "claude-sonnet-4-5-20250929"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert "authorization" not in sent.headers
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert sent.headers["anthropic-version"] == VERSION["anthropic-version"]


@pytest.mark.parametrize("model", ["claude", "gem"])
@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(setup: Setup, model: str, stream: bool) -> None:
    client = setup.client()
    messages: list[dict[str, Any]] = say("Weather in Paris? [scenario:tools]")
    first = _ask(client, stream, model=model, max_tokens=512, messages=messages, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    calls = [b for b in first.content if b.type == "tool_use"]
    assert calls and calls[0].name == "get_weather"
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    results = [{"type": "tool_result", "tool_use_id": c.id, "content": "sunny"} for c in calls]
    messages.append({"role": "user", "content": results})
    second = _ask(client, stream, model=model, max_tokens=512, messages=messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn"
    assert "sunny" in "".join(b.text for b in second.content if b.type == "text")


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_with_tool_round_trip_passthrough(setup: Setup, stream: bool) -> None:
    """The fake Anthropic accepts a thinking block back only byte for byte, signature too."""
    client = setup.client()
    thinking = {"type": "enabled", "budget_tokens": 2048}
    ask = {"model": "claude", "max_tokens": 4096, "thinking": thinking, "tools": [WEATHER]}
    messages: list[dict[str, Any]] = say("Weather? [scenario:thinking_tools]")
    first = _ask(client, stream, messages=messages, **ask)
    assert first.content[0].type == "thinking"
    assert first.content[0].signature  # type: ignore[union-attr]
    calls = [b for b in first.content if b.type == "tool_use"]
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    results = [{"type": "tool_result", "tool_use_id": c.id, "content": "sunny"} for c in calls]
    messages.append({"role": "user", "content": results})
    second = _ask(client, stream, messages=messages, **ask)
    assert second.stop_reason == "end_turn"


def test_thinking_translated_to_gemini(setup: Setup) -> None:
    client = setup.client()
    message = client.messages.create(
        model="gem",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=say("Think [scenario:thinking]"),
    )
    kinds = [b.type for b in message.content]
    assert kinds[-1] == "text"
    assert "thinkingConfig" in setup.gem.last.body["generationConfig"]


def test_image_translated_to_gemini(setup: Setup) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
    content = [image, {"type": "text", "text": "What is this? [scenario:image]"}]
    message = setup.client().messages.create(
        model="gem", max_tokens=64, messages=[{"role": "user", "content": content}]
    )
    assert message.content[0].text == "I see 1 image(s)."  # type: ignore[union-attr]


def test_count_tokens(setup: Setup) -> None:
    client = setup.client()
    counted = client.messages.count_tokens(model="claude", messages=say("Hello"))
    assert counted.input_tokens == COUNTED_TOKENS
    assert setup.claude.requests[-1].body["model"] == "claude-sonnet-4-5-20250929"
    estimated = client.messages.count_tokens(model="gpt", messages=say("Hello there"))
    assert 0 < estimated.input_tokens < COUNTED_TOKENS  # the documented size estimate
    assert setup.gpt.requests == []


@pytest.mark.parametrize(
    ("case", "status", "kind"),
    [
        ("bad_key", 401, "authentication_error"),
        ("unknown_model", 404, "not_found_error"),
        ("bad_request", 400, "invalid_request_error"),
    ],
)
def test_proxy_errors_are_anthropic_shaped(setup: Setup, case: str, status: int, kind: str) -> None:
    headers = {"x-api-key": "wrong" if case == "bad_key" else CLIENT_KEY}
    body: dict[str, Any] = {"model": "nope" if case == "unknown_model" else "claude"}
    if case != "bad_request":
        body |= {"max_tokens": 10, "messages": say("hi")}
    answer = httpx.post(f"{setup.url}/v1/messages?beta=true", json=body, headers=headers)
    assert answer.status_code == status
    assert answer.json()["type"] == "error"
    assert answer.json()["error"]["type"] == kind


def test_upstream_error_passes_through_unmodified(setup: Setup) -> None:
    client = setup.client()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude", max_tokens=10, messages=say("[scenario:error_400]"))
    assert caught.value.status_code == 400
    spec = json.loads((FIXTURES / "error_400" / "anthropic_error.json").read_text())
    assert caught.value.response.content == orjson.dumps(spec["body"])  # the fake's bytes


def test_models_list_in_anthropic_shape(setup: Setup) -> None:
    page = setup.client().models.list()
    assert {m.id for m in page.data} == {"claude", "gpt", "gem"}
    assert all(m.type == "model" for m in page.data)


def _ask(client: anthropic.Anthropic, stream: bool, **request: Any) -> anthropic.types.Message:
    if not stream:
        return client.messages.create(**request)
    with client.messages.stream(**request) as events:
        return events.get_final_message()
