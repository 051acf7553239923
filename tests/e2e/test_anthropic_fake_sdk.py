"""The fake Anthropic upstream checked with the official `anthropic` SDK, so that it (and the
golden fixtures it serves) cannot drift from the real wire format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from tests.fakes.anthropic import FakeAnthropic

KEY = "fake-anthropic-key"
SCENARIOS = ["text", "tools", "parallel_tools", "json_schema", "thinking", "refusal", "usage_cache"]


@pytest.fixture
def fake(serve: Callable[..., str]) -> tuple[FakeAnthropic, anthropic.Anthropic]:
    upstream = FakeAnthropic(api_key=KEY)
    url = serve(upstream.app())
    client = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0, timeout=10)
    return upstream, client


def ask(scenario: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "messages": [{"role": "user", "content": f"Hello [scenario:{scenario}]"}],
        **extra,
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_create_and_stream_parse(
    fake: tuple[FakeAnthropic, anthropic.Anthropic], scenario: str
) -> None:
    upstream, client = fake
    message = client.messages.create(**ask(scenario))
    assert message.model == "claude-sonnet-4-5"
    assert message.stop_reason is not None
    assert message.content
    with client.messages.stream(**ask(scenario)) as stream:
        final = stream.get_final_message()
    assert [b.model_dump(exclude_none=True) for b in final.content] == [
        b.model_dump(exclude_none=True) for b in message.content
    ]
    assert final.stop_reason == message.stop_reason
    assert final.usage.output_tokens == message.usage.output_tokens
    assert final.usage.input_tokens == message.usage.input_tokens
    sent = upstream.requests[-1]
    # This SDK sends its key as a bearer token; the proxy's adapter uses x-api-key.
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["anthropic-version"]
    assert sent.body["stream"] is True


def test_stream_text_events(fake: tuple[FakeAnthropic, anthropic.Anthropic]) -> None:
    _, client = fake
    with client.messages.stream(**ask("text")) as stream:
        text = "".join(stream.text_stream)
    assert text == "Hello! How can I help you today?"


def test_tool_use_parses(fake: tuple[FakeAnthropic, anthropic.Anthropic]) -> None:
    _, client = fake
    with client.messages.stream(**ask("parallel_tools")) as stream:
        final = stream.get_final_message()
    tools = [b for b in final.content if b.type == "tool_use"]
    assert [t.input for t in tools] == [{}, {"city": "Tokyo"}, {"city": "Tokyo"}]


def test_thinking_parses(fake: tuple[FakeAnthropic, anthropic.Anthropic]) -> None:
    _, client = fake
    message = client.messages.create(
        **ask("thinking", thinking={"type": "enabled", "budget_tokens": 1024})
    )
    assert [b.type for b in message.content] == ["thinking", "text"]


@pytest.mark.parametrize(
    ("scenario", "error"),
    [
        ("error_400", anthropic.BadRequestError),
        ("error_401", anthropic.AuthenticationError),
        ("error_403", anthropic.PermissionDeniedError),
        ("error_404", anthropic.NotFoundError),
        ("error_413", anthropic.ContentTooLargeError),
        ("error_429", anthropic.RateLimitError),
        ("error_429_spend_limit", anthropic.RateLimitError),
        ("error_500", anthropic.InternalServerError),
        ("error_529", anthropic.OverloadedError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_error_scenarios_raise_typed_errors(
    fake: tuple[FakeAnthropic, anthropic.Anthropic],
    scenario: str,
    error: type[Exception],
    stream: bool,
) -> None:
    _, client = fake
    with pytest.raises(error) as info:
        if stream:
            with client.messages.stream(**ask(scenario)) as events:
                events.get_final_message()
        else:
            client.messages.create(**ask(scenario))
    assert isinstance(info.value, anthropic.APIStatusError)
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "error"


def test_spend_limit_has_its_error_code(fake: tuple[FakeAnthropic, anthropic.Anthropic]) -> None:
    _, client = fake
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(**ask("error_429_spend_limit"))
    assert info.value.error_code == "enforced_spend_limit_reached"


def test_in_stream_error_event(fake: tuple[FakeAnthropic, anthropic.Anthropic]) -> None:
    _, client = fake
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        client.messages.stream(**ask("stream_error")) as stream,
    ):
        seen.extend(stream.text_stream)
    assert seen == ["Hello! How c"]
    assert info.value.body["error"]["type"] == "overloaded_error"


def test_wrong_key_is_a_401(fake: tuple[FakeAnthropic, anthropic.Anthropic]) -> None:
    _, client = fake
    other = client.with_options(api_key="wrong-key")
    with pytest.raises(anthropic.AuthenticationError):
        other.messages.create(**ask("text"))


@pytest.mark.parametrize(
    "extra",
    [
        {"thinking": {"type": "enabled", "budget_tokens": 512}},
        {"thinking": {"type": "enabled", "budget_tokens": 4096}},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
        {"messages": [{"role": "system", "content": "x"}]},
        {
            "messages": [
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}]}
            ]
        },
        {"tool_choice": {"type": "required"}},
    ],
)
def test_fake_rejects_what_the_api_rejects(
    fake: tuple[FakeAnthropic, anthropic.Anthropic], extra: dict[str, Any]
) -> None:
    _, client = fake
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(**ask("text", **extra))
    assert info.value.body["error"]["type"] == "invalid_request_error"


def test_fake_rejects_unknown_fields(fake: tuple[FakeAnthropic, anthropic.Anthropic]) -> None:
    _, client = fake
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(**ask("text"), extra_body={"n": 2})
    assert "n: Extra inputs are not permitted" in str(info.value)
