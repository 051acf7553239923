"""proxy/providers/anthropic/reasoning.py: thinking blocks down to the client and back up."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from proxy.errors import ProxyError
from proxy.providers.anthropic import from_anthropic_response, to_anthropic_request
from proxy.providers.anthropic.reasoning import replay_blocks
from tests.providers.anthropic.golden import CASES, CTX, load, stream_chunks

SIGNED = {"type": "thinking", "thinking": 'Two "quotes", a\nnewline, é ☀️.', "signature": "Eq+/=="}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgB+/=="}
TEXT_DETAIL = {"type": "reasoning.text", "text": SIGNED["thinking"], "signature": "Eq+/=="}
ENCRYPTED_DETAIL = {"type": "reasoning.encrypted", "data": "EmwKAhgB+/=="}
CLAUDE = {"format": "anthropic-claude-v1"}


def with_index(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**entry, "index": i} for i, entry in enumerate(entries)]


REPLAYS = {
    "litellm thinking_blocks": ({"thinking_blocks": [SIGNED, REDACTED]}, [SIGNED, REDACTED]),
    "openrouter reasoning_details": (
        {"reasoning_details": with_index([{**TEXT_DETAIL, **CLAUDE}, ENCRYPTED_DETAIL])},
        [SIGNED, REDACTED],
    ),
    "both, as the proxy answers: no duplicates": (
        {
            "reasoning_content": SIGNED["thinking"],
            "thinking_blocks": [SIGNED, REDACTED],
            "reasoning_details": with_index([TEXT_DETAIL, ENCRYPTED_DETAIL]),
        },
        [SIGNED, REDACTED],
    ),
    "as the SDK stream helper assembles them (index kept)": (
        {"thinking_blocks": with_index([SIGNED, REDACTED])},
        [SIGNED, REDACTED],
    ),
    "other providers' reasoning and summaries are left out": (
        {
            "reasoning_details": [
                {"type": "reasoning.summary", "summary": "s", **CLAUDE},
                {**TEXT_DETAIL, "format": "openai-responses-v1"},
                {**ENCRYPTED_DETAIL, "format": "google-gemini-v1"},
                TEXT_DETAIL,
            ]
        },
        [SIGNED],
    ),
    "unsigned thinking cannot be verified: left out": (
        {
            "thinking_blocks": [{"type": "thinking", "thinking": "t"}, REDACTED],
            "reasoning_details": [{"type": "reasoning.text", "text": "t", "signature": None}],
        },
        [REDACTED],
    ),
    "no reasoning": ({"reasoning_content": "only text, no signature"}, []),
    "empty lists": ({"thinking_blocks": [], "reasoning_details": []}, []),
}


@pytest.mark.parametrize(("fields", "expected"), REPLAYS.values(), ids=REPLAYS.keys())
def test_replay_blocks(fields: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert replay_blocks({"role": "assistant", **fields}, "messages[1]") == expected


BAD = [
    ({"thinking_blocks": {"type": "thinking"}}, "messages[1].thinking_blocks"),
    ({"thinking_blocks": ["thinking"]}, "messages[1].thinking_blocks[0]"),
    ({"thinking_blocks": [{"type": "text", "text": "x"}]}, "messages[1].thinking_blocks[0].type"),
    (
        {"thinking_blocks": [{"type": "thinking", "thinking": 1, "signature": "s"}]},
        "messages[1].thinking_blocks[0].thinking",
    ),
    ({"thinking_blocks": [{"type": "redacted_thinking"}]}, "messages[1].thinking_blocks[0].data"),
    ({"reasoning_details": "x"}, "messages[1].reasoning_details"),
    (
        {"reasoning_details": [SIGNED, {"type": "reasoning.encrypted", "data": None}]},
        "messages[1].reasoning_details[1].data",
    ),
]


@pytest.mark.parametrize(("fields", "param"), BAD)
def test_malformed_reasoning_is_a_400_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ProxyError) as info:
        replay_blocks({"role": "assistant", **fields}, "messages[1]")
    assert info.value.status == 400
    assert info.value.param == param


def test_blocks_go_back_first_in_the_turn_before_text_and_tool_use() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {
        "model": "smart",
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [call],
                "thinking_blocks": [SIGNED, REDACTED],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
    }
    turn = to_anthropic_request(body, CTX)["messages"][1]["content"]
    assert [b["type"] for b in turn] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert turn[:2] == [SIGNED, REDACTED]


def test_answer_carries_both_conventions() -> None:
    message = from_anthropic_response(load("thinking_tools", "anthropic_response.json"), CTX)
    reply = message["choices"][0]["message"]
    blocks = [b for b in load("thinking_tools", "anthropic_response.json")["content"]]
    reasoning = [b for b in blocks if b["type"] in ("thinking", "redacted_thinking")]
    assert reply["thinking_blocks"] == reasoning
    assert reply["reasoning_details"] == [
        {**TEXT_DETAIL, "text": reasoning[0]["thinking"], "signature": reasoning[0]["signature"]}
        | {**CLAUDE, "index": 0},
        {**ENCRYPTED_DETAIL, "data": reasoning[1]["data"], **CLAUDE, "index": 1},
    ]
    # What the client sends back is what Claude wrote.
    assert replay_blocks(reply, "messages[1]") == reasoning
    assert replay_blocks({"reasoning_details": reply["reasoning_details"]}, "m") == reasoning


def sdk_assembled(case: str) -> dict[str, Any]:
    """The message the openai SDK's stream helper builds from the case's stream."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in stream_chunks(case):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    # The snapshot: get_final_completion() refuses finish reasons "length" and "content_filter".
    message: dict[str, Any] = state.current_completion_snapshot.choices[0].message.model_dump()
    return message


@pytest.mark.parametrize("case", CASES)
def test_stream_helper_assembles_what_the_answer_carries(case: str) -> None:
    streamed = sdk_assembled(case)
    message = load(case, "openai_response.json")["choices"][0]["message"]
    blocks = [
        {k: v for k, v in b.items() if k != "index"} for b in streamed.get("thinking_blocks") or []
    ]
    assert blocks == message.get("thinking_blocks", [])
    assert (streamed.get("reasoning_details") or []) == message.get("reasoning_details", [])
    assert replay_blocks(streamed, "m") == replay_blocks(message, "m")


def test_stream_reasoning_entries_are_indexed_per_block() -> None:
    seen: list[tuple[str, int]] = []
    for chunk in stream_chunks("thinking_tools"):
        for choice in chunk["choices"]:
            for key in ("thinking_blocks", "reasoning_details"):
                seen.extend((key, entry["index"]) for entry in choice["delta"].get(key, []))
    assert {index for _, index in seen} == {0, 1}
    # `format` is a string the helper would concatenate: it comes once per entry.
    formats = [
        entry
        for chunk in stream_chunks("thinking_tools")
        for choice in chunk["choices"]
        for entry in choice["delta"].get("reasoning_details", [])
        if "format" in entry
    ]
    assert [entry["index"] for entry in formats] == [0, 1]


def test_translation_leaves_the_client_message_alone() -> None:
    body = load("thinking_tools", "openai_request.json")
    before = copy.deepcopy(body)
    to_anthropic_request(body, CTX)
    assert body == before
