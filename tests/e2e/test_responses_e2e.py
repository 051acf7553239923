"""POST /v1/responses end to end: the real proxy on 127.0.0.1 in front of fake upstreams of
all three kinds, driven by the official `openai` SDK as Codex and Agents SDK users do.

`gpt` routes to the fake OpenAI (passthrough to its /v1/responses), `claude` to the fake
Anthropic and `gem` to the fake Gemini (both translated through Chat Completions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from pydantic import BaseModel

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.formats import GEMINI_KEY
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.responses_fake import ENCRYPTED

ANTHROPIC_KEY = "fake-anthropic-key"
OPENAI_KEY = "fake-openai-key"
MODELS = ["gpt", "claude", "gem"]
CODEX = Path(__file__).parents[1] / "fixtures" / "responses" / "codex_tool_loop" / "request.json"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
# The marker each fake answers with structured output (tests/fakes/*.py).
JSON_MARKER = {"gpt": "", "claude": " [scenario:json_schema]", "gem": " [scenario:json]"}


@dataclass
class Setup:
    url: str
    gpt: FakeOpenAI
    claude: FakeAnthropic
    gem: FakeGemini

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10
        )


@pytest.fixture
def setup(serve: Callable[..., str], start_proxy: Callable[..., str]) -> Setup:
    gpt, claude, gem = FakeOpenAI(), FakeAnthropic(api_key=ANTHROPIC_KEY), FakeGemini(GEMINI_KEY)
    urls = [serve(fake.app()) for fake in (gpt, claude, gem)]
    yaml = f"""
providers:
  openai:
    type: openai
    base_url: {urls[0]}/v1
    api_key: "{OPENAI_KEY}"
  anthropic:
    type: anthropic
    base_url: {urls[1]}
    api_key: "{ANTHROPIC_KEY}"
  gemini:
    type: gemini
    base_url: {urls[2]}
    api_key: "{GEMINI_KEY}"
    drop_unsupported: true  # Codex always sends parallel_tool_calls false (README)
models:
  gpt:
    - {{provider: openai, model: gpt-5}}
  claude:
    - {{provider: anthropic, model: claude-sonnet-4-5-20250929}}
  gem:
    - {{provider: gemini, model: gemini-2.5-flash}}
"""
    return Setup(start_proxy(yaml), gpt, claude, gem)


@pytest.mark.parametrize("model", MODELS)
def test_create_and_stream_agree(setup: Setup, model: str) -> None:
    client = setup.client()
    response = client.responses.create(model=model, input="Hello")
    assert response.status == "completed"
    assert response.model in (model, "gpt-5")  # passthrough: the upstream's own answer
    assert response.output_text
    assert response.usage is not None and response.usage.output_tokens > 0
    with client.responses.stream(model=model, input="Hello") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == response.output_text
    assert final.status == "completed"


def test_passthrough_sends_the_clients_bytes_but_model(setup: Setup) -> None:
    body = {
        "model": "gpt",
        "input": [{"role": "user", "content": "Hello"}],
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "cache-key-1",
        "reasoning": {"effort": "medium", "summary": "auto"},
        "client_metadata": {"x-codex-installation-id": "abc"},
    }
    raw = orjson.dumps(body)
    answer = httpx.post(
        f"{setup.url}/v1/responses",
        content=raw,
        headers={"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.json()["output"][0]["encrypted_content"] == ENCRYPTED
    sent = setup.gpt.requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert setup.gpt.raw_bodies[-1] == raw.replace(b'"model":"gpt"', b'"model":"gpt-5"')


def test_passthrough_stream_forwards_events_as_sent(setup: Setup) -> None:
    body = {
        "model": "gpt",
        "input": "Hi",
        "stream": True,
        "include": ["reasoning.encrypted_content"],
    }
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.stream("POST", f"{setup.url}/v1/responses", json=body, headers=headers) as answer:
        assert answer.status_code == 200
        text = answer.read().decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["encrypted_content"] == ENCRYPTED


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_tool_round_trip(setup: Setup, model: str, stream: bool) -> None:
    client = setup.client()
    items: list[Any] = [{"role": "user", "content": "Weather in Paris? [scenario:tools]"}]
    first = _ask(client, stream, model=model, input=items, tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments)
    items += [item.model_dump(exclude_none=True) for item in first.output]
    items += [
        {"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls
    ]
    second = _ask(client, stream, model=model, input=items, tools=[WEATHER])
    assert second.status == "completed"
    assert "sunny" in second.output_text


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


@pytest.mark.parametrize("model", MODELS)
def test_parse_with_pydantic_model(setup: Setup, model: str) -> None:
    parsed = setup.client().responses.parse(
        model=model,
        instructions="Extract the event information.",
        input="Alice and Bob: science fair, Friday" + JSON_MARKER[model],
        text_format=CalendarEvent,
    )
    assert isinstance(parsed.output_parsed, CalendarEvent)
    if model != "gem":  # the fake Gemini makes its JSON up from the schema
        assert parsed.output_parsed.participants == ["Alice", "Bob"]


@pytest.mark.parametrize("model", MODELS)
def test_codex_request_streams_to_response_completed(setup: Setup, model: str) -> None:
    body = {**json.loads(CODEX.read_text()), "model": model}
    if model == "claude":
        # The fixture's reasoning items carry thinking blocks signed by another Claude than
        # this fake, which (like Anthropic) refuses a signature it did not issue: its first
        # turn here, the whole loop in test_codex_tool_loop.
        body["input"] = body["input"][:4]
    headers = {"authorization": f"Bearer {CLIENT_KEY}", "session-id": "s1"}
    with httpx.stream("POST", f"{setup.url}/v1/responses", json=body, headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        text = answer.read().decode()
    names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert names[0] == "response.created"
    assert names[-1] == "response.completed"  # Codex fails a stream without it
    if model == "gpt":  # passthrough: Codex's own fields reach OpenAI as sent
        sent = setup.gpt.requests[-1].body
        assert sent["store"] is False and sent["prompt_cache_key"] == body["prompt_cache_key"]
        assert sent["input"] == body["input"] and sent["model"] == "gpt-5"


TOOLS_MARKER = {
    "gpt": "[scenario:tools]",
    "claude": "[scenario:thinking_tools]",
    "gem": "[scenario:tools]",
}


@pytest.mark.parametrize("model", MODELS)
def test_codex_tool_loop(setup: Setup, model: str) -> None:
    """Codex's loop: its first turn (developer and user messages, its tools) gets a function
    call; the second sends back everything it got (reasoning items with encrypted content
    included) and the call's output, and gets the answer."""
    codex = json.loads(CODEX.read_text())
    items = codex["input"][:4]
    items[3] = {"role": "user", "content": f"Weather in Paris? {TOOLS_MARKER[model]}"}
    body = {**codex, "model": model, "input": items}
    first = _codex_turn(setup.url, body)
    calls = [item for item in first["output"] if item["type"] == "function_call"]
    assert calls
    if model == "claude":  # the signed thinking block travels in encrypted_content
        assert first["output"][0]["type"] == "reasoning"
        assert first["output"][0]["encrypted_content"]
    items += first["output"]
    items += [
        {"type": "function_call_output", "call_id": c["call_id"], "output": "sunny"} for c in calls
    ]
    second = _codex_turn(setup.url, {**body, "input": items})
    texts = [p["text"] for i in second["output"] if i["type"] == "message" for p in i["content"]]
    assert "sunny" in "".join(texts)


def _codex_turn(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """One streamed Codex request; the Response of its response.completed event."""
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.stream("POST", f"{url}/v1/responses", json=body, headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        text = answer.read().decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "response.completed"
    response: dict[str, Any] = events[-1]["response"]
    return response


@pytest.mark.parametrize(
    ("model", "fault"),
    [("gpt", "mode"), ("claude", "[scenario:stream_error]"), ("gem", "[scenario:stream_error]")],
)
def test_failure_after_commit_is_response_failed(setup: Setup, model: str, fault: str) -> None:
    setup.gpt.mode = "stream_error"
    client = setup.client()
    prompt = "Hello " + (fault if fault.startswith("[") else "")
    with client.responses.stream(model=model, input=prompt) as stream:
        kinds = [event.type for event in stream]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.failed"
    assert "response.completed" not in kinds


@pytest.mark.parametrize(
    ("case", "status", "param"),
    [
        ("bad_key", 401, None),
        ("unknown_model", 404, "model"),
        ("stateful_translated", 400, "previous_response_id"),
        ("unknown_tool_type", 400, "tools[0].type"),
    ],
)
def test_errors_are_openai_shaped(setup: Setup, case: str, status: int, param: str | None) -> None:
    body: dict[str, Any] = {"model": "nope" if case == "unknown_model" else "claude", "input": "hi"}
    if case == "stateful_translated":
        body["previous_response_id"] = "resp_123"
    if case == "unknown_tool_type":
        body["tools"] = [{"type": "web_search"}]
    key = "wrong" if case == "bad_key" else CLIENT_KEY
    answer = httpx.post(
        f"{setup.url}/v1/responses", json=body, headers={"authorization": f"Bearer {key}"}
    )
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["message"] and error["type"]
    if param is not None:
        assert error["param"] == param
    assert setup.claude.requests == []


def test_stateful_request_goes_only_to_passthrough(setup: Setup) -> None:
    answer = setup.client().responses.create(model="gpt", input="Hi", previous_response_id="resp_1")
    assert answer.status == "completed"
    assert setup.gpt.requests[-1].body["previous_response_id"] == "resp_1"


def test_upstream_error_is_openai_shaped_through_the_sdk(setup: Setup) -> None:
    setup.gpt.status = 400
    with pytest.raises(openai.BadRequestError) as caught:
        setup.client().responses.create(model="gpt", input="Hi")
    assert "fake error 400" in str(caught.value)


def test_websocket_upgrade_gets_426(setup: Setup) -> None:
    plain = httpx.get(f"{setup.url}/v1/responses")
    upgrade = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    handshake = httpx.get(f"{setup.url}/v1/responses", headers=upgrade)
    for answer in (plain, handshake):
        assert answer.status_code == 426
        assert "supports_websockets = false" in answer.json()["error"]["message"]


def _ask(client: openai.OpenAI, stream: bool, **params: Any) -> Any:
    if not stream:
        return client.responses.create(**params)
    with client.responses.stream(**params) as events:
        for _ in events:
            pass
        return events.get_final_response()


def test_codex_request_to_gemini_without_drop_unsupported_names_the_parameter(
    serve: Callable[..., str], start_proxy: Callable[..., str]
) -> None:
    gem = FakeGemini(GEMINI_KEY)
    url = start_proxy(
        f"""
providers:
  gemini: {{type: gemini, base_url: "{serve(gem.app())}", api_key: "{GEMINI_KEY}"}}
models:
  gem: [{{provider: gemini, model: gemini-2.5-flash}}]
"""
    )
    body = {**json.loads(CODEX.read_text()), "model": "gem"}
    answer = httpx.post(
        f"{url}/v1/responses", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "parallel_tool_calls"
