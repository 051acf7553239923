"""proxy/providers/anthropic/ids.py: tool-call ids in Anthropic's alphabet, losslessly."""

from __future__ import annotations

import json
import random
import re

import pytest

from proxy.providers.anthropic import AnthropicStreamTranslator, from_anthropic_response
from proxy.providers.anthropic.ids import from_anthropic_id, to_anthropic_id
from proxy.sse import SSEEvent
from tests.providers.anthropic.golden import CTX, load

ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")  # https://docs.anthropic.com/en/api/messages

CASES = [
    # Ids Anthropic accepts go up unchanged.
    ("call_abc123", "call_abc123"),
    ("toolu_01A09q90qw90lq917835lq9", "toolu_01A09q90qw90lq917835lq9"),
    ("a-b_C-9", "a-b_C-9"),
    # Kimi K2 and other providers' ids.
    ("functions.get_weather:0", "idx-functions-2eget_weather-3a0"),
    ("call.0", "idx-call-2e0"),
    ("ns/tool id", "idx-ns-2ftool-20id"),
    ("é", "idx--c3-a9"),
    ("", "idx-"),
    # An id that looks encoded is encoded too, so the mapping stays one to one.
    ("idx-functions-2eget_weather-3a0", "idx-idx-2dfunctions-2d2eget_weather-2d3a0"),
]


@pytest.mark.parametrize(("client_id", "anthropic_id"), CASES)
def test_mapping(client_id: str, anthropic_id: str) -> None:
    assert to_anthropic_id(client_id) == anthropic_id
    assert ANTHROPIC_ID.match(anthropic_id)
    assert from_anthropic_id(anthropic_id) == client_id


def test_round_trip_and_one_to_one_on_random_ids() -> None:
    rng = random.Random(10)
    alphabet = "aZ09_-.:/ é☀😀\\\"'"
    ids = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(2000)}
    mapped = {to_anthropic_id(i) for i in ids}
    assert len(mapped) == len(ids)
    for call_id in ids:
        encoded = to_anthropic_id(call_id)
        assert ANTHROPIC_ID.match(encoded), call_id
        assert from_anthropic_id(encoded) == call_id


@pytest.mark.parametrize(
    "anthropic_id", ["toolu_01XYZ", "idx-a-b", "idx-zz", "idx--ff", "idx-abc-2E", "idx-x-2d"]
)
def test_ids_we_did_not_write_come_down_unchanged(anthropic_id: str) -> None:
    assert from_anthropic_id(anthropic_id) == anthropic_id


def encoded_tool_answer() -> dict[str, object]:
    message = load("tools", "anthropic_response.json")
    for block in message["content"]:
        if block["type"] == "tool_use":
            block["id"] = to_anthropic_id("functions.get_weather:0")
    return message


def test_the_client_sees_its_own_id_in_answers() -> None:
    response = from_anthropic_response(encoded_tool_answer(), CTX)
    assert response["choices"][0]["message"]["tool_calls"][0]["id"] == "functions.get_weather:0"


def test_the_client_sees_its_own_id_in_streams() -> None:
    translator = AnthropicStreamTranslator(CTX, "claude")
    block = {"type": "tool_use", "id": to_anthropic_id("functions.f:1"), "name": "f", "input": {}}
    start = {"type": "content_block_start", "index": 0, "content_block": block}
    [chunk] = translator.feed(SSEEvent(json.dumps(start), "content_block_start"))
    assert chunk["choices"][0]["delta"]["tool_calls"][0]["id"] == "functions.f:1"
