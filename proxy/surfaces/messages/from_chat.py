"""OpenAI chat.completion -> Anthropic Message, as one pure function (non-stream answers of
translated deployments). Shapes: `anthropic.types.Message`, `anthropic.types.Usage`.

- reasoning_content -> a first `thinking` block with an empty signature (no other provider
  signs its reasoning; translation drops it again on the way up);
- content -> one text block; tool_calls -> tool_use blocks (arguments parsed; ids through
  ids.to_anthropic_id so that Anthropic SDK clients may send them to Claude later);
- finish_reason -> stop_reason (STOP_REASONS); usage -> input/output tokens, cached prompt
  tokens as cache_read_input_tokens (Anthropic's input_tokens exclude cache reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson

from proxy.providers.anthropic.ids import to_anthropic_id

# OpenAI finish_reason -> Anthropic stop_reason: the inverse of design.md §3's table.
STOP_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "stop": "end_turn",
        "length": "max_tokens",
        "tool_calls": "tool_use",
        "function_call": "tool_use",
        "content_filter": "refusal",
    }
)


def stop_reason(finish_reason: Any) -> str:
    return (
        STOP_REASONS.get(finish_reason, "end_turn")
        if isinstance(finish_reason, str)
        else "end_turn"
    )


def message_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage -> Anthropic usage (zeros for what the upstream did not report)."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) else 0
    prompt = usage.get("prompt_tokens") if isinstance(usage.get("prompt_tokens"), int) else 0
    output = usage.get("completion_tokens")
    return {
        "input_tokens": max(0, prompt - cached),
        "output_tokens": output if isinstance(output, int) else 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as the object Anthropic's `input` is; ValueError if they are
    not a JSON object (the upstream's fault: malformed)."""
    if not arguments:
        return {}
    value = orjson.loads(arguments)
    if not isinstance(value, dict):
        raise ValueError("tool arguments are not a JSON object")
    return value


def to_message(response: Mapping[str, Any], message_id: str, model: str) -> dict[str, Any]:
    choice = response["choices"][0]
    reply = choice["message"]
    content: list[dict[str, Any]] = []
    reasoning = reply.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = reply.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in reply.get("tool_calls") or ():
        function = call["function"]
        content.append(
            {
                "type": "tool_use",
                "id": to_anthropic_id(call["id"]),
                "name": function["name"],
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": message_usage(response.get("usage")),
    }
