"""The fake OpenAI's /v1/responses (tests/fakes/responses_fake.py), checked with the official
`openai` SDK: if the SDK parses and accumulates what the fake says, the fake speaks the real
Responses wire format, and the passthrough tests against it mean something."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.fakes.openai import FakeOpenAI
from tests.fakes.responses_fake import ENCRYPTED

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def client(serve: Callable[..., str]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{serve(FakeOpenAI().app())}/v1", api_key="k", max_retries=0)


def test_create_and_stream_agree(client: openai.OpenAI) -> None:
    include: list[openai.types.responses.ResponseIncludable] = ["reasoning.encrypted_content"]
    whole = client.responses.create(model="m", input="Hi", include=include)
    assert whole.output_text == FakeOpenAI().content
    assert whole.output[0].type == "reasoning"
    assert whole.output[0].encrypted_content == ENCRYPTED
    with client.responses.stream(model="m", input="Hi", include=include) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == whole.output_text
    assert [item.type for item in final.output] == [item.type for item in whole.output]
    assert final.usage == whole.usage


@pytest.mark.parametrize("stream", [False, True])
def test_function_call_and_its_output(client: openai.OpenAI, stream: bool) -> None:
    ask: dict[str, Any] = {"model": "m", "tools": [WEATHER]}
    items: list[Any] = [{"role": "user", "content": "Weather? [scenario:tools]"}]
    if stream:
        with client.responses.stream(input=items, **ask) as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(input=items, **ask)
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    items += [
        call.model_dump(),
        {"type": "function_call_output", "call_id": call.call_id, "output": "ok"},
    ]
    second = client.responses.create(input=items, **ask)
    assert second.output_text == "results: ok"


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


def test_parse(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(model="m", input="Alice and Bob", text_format=CalendarEvent)
    assert parsed.output_parsed == CalendarEvent(
        name="Science fair", date="Friday", participants=["Alice", "Bob"]
    )
