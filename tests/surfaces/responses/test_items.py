"""proxy/surfaces/responses/items.py: Responses input items -> chat messages."""

from __future__ import annotations

from typing import Any

from proxy.surfaces.responses.items import translate_input
from proxy.surfaces.responses.reasoning import encode_block


def test_reasoning_goes_back_byte_exact_and_foreign_ciphertext_is_left_out() -> None:
    block = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAA-openai"},
            {"type": "reasoning", "summary": [], "encrypted_content": encode_block(block)},
            {"type": "message", "role": "assistant", "content": "Hello."},
        ],
    }
    assistant = translate_input(body["input"])[1]
    assert assistant == {"role": "assistant", "content": "Hello.", "thinking_blocks": [block]}


def test_reasoning_without_a_following_assistant_turn_is_dropped() -> None:
    block = {"type": "thinking", "thinking": "t", "signature": "s"}
    body = {
        "model": "m",
        "input": [
            {"type": "reasoning", "summary": [], "encrypted_content": encode_block(block)},
            {"role": "user", "content": "hi"},
        ],
    }
    assert translate_input(body["input"]) == [{"role": "user", "content": "hi"}]


def test_namespaced_call_in_input_is_flattened() -> None:
    body = {
        "model": "m",
        "input": [
            {"type": "function_call", "call_id": "c1", "name": "search", "namespace": "mcp__docs__",
             "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    }  # fmt: skip
    call = translate_input(body["input"])[0]["tool_calls"][0]
    assert call["function"]["name"] == "mcp__docs__search"


def test_assistant_text_and_following_calls_are_one_turn() -> None:
    items: list[Any] = [
        {"role": "user", "content": "hi"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Checking."}, {"type": "refusal", "refusal": "r"}]},
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": "1"},
        {"type": "function_call_output", "call_id": "b", "output": "2"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
    ]  # fmt: skip
    messages = translate_input(items)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "assistant"]
    assert messages[1]["content"] == "Checking." and messages[1]["refusal"] == "r"
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["a", "b"]
    assert messages[4] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }


def test_an_assistant_message_without_calls_has_no_tool_calls_key() -> None:
    messages = translate_input(
        [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]
    )
    assert messages[0] == {"role": "assistant", "content": "x"}
