"""Claude's thinking blocks on the OpenAI surface, and back (pure, both directions).

With extended thinking and tools, Anthropic rejects the next request unless the assistant
turn that called the tools starts with its thinking blocks, unchanged (400 "Expected
`thinking` or `redacted_thinking`, but found `tool_use`";
https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks).
The signature covers the text, so both go back byte-exact. The Chat Completions shape has no
field for them; clients already use two conventions, and answers carry both:

- LiteLLM: `thinking_blocks: [{"type": "thinking", "thinking", "signature"} |
  {"type": "redacted_thinking", "data"}]` beside `reasoning_content`
  (https://docs.litellm.ai/docs/reasoning_content);
- OpenRouter: `reasoning_details: [{"type": "reasoning.text", "text", "signature"} |
  {"type": "reasoning.encrypted", "data"}]`, each with `format` and `index`
  (https://openrouter.ai/docs/best-practices/reasoning-tokens).

Stream deltas carry list entries with an `index` (the block's position among the reasoning
blocks): the openai SDK's stream helper merges list deltas by that key and concatenates
their string fields, so a block opens with its full entry (`format`, empty `thinking` and
`signature`) and later deltas add only `thinking` text or the `signature`.

On the way up, `thinking_blocks` is read when present, else `reasoning_details`; entries that
Claude could not verify (no signature, another provider's `format`, summaries) are left out,
as Anthropic itself ignores thinking it did not sign.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proxy.errors import invalid_request
from proxy.providers.anthropic.wire import ReasoningBlock

# OpenRouter's `format` for Claude's reasoning (the only one Anthropic can verify).
FORMAT = "anthropic-claude-v1"


# --- down: Anthropic blocks -> OpenAI message fields and stream deltas ---------------------


def reasoning_fields(blocks: Sequence[ReasoningBlock]) -> dict[str, Any]:
    """The message's `thinking_blocks` and `reasoning_details` for Claude's reasoning blocks."""
    return {
        "thinking_blocks": [dict(block) for block in blocks],
        "reasoning_details": [_detail(block, i) for i, block in enumerate(blocks)],
    }


def _detail(block: ReasoningBlock, index: int) -> dict[str, Any]:
    if block["type"] == "thinking":
        return {
            "type": "reasoning.text",
            "text": block["thinking"],
            "signature": block["signature"],
            "format": FORMAT,
            "index": index,
        }
    return {"type": "reasoning.encrypted", "data": block["data"], "format": FORMAT, "index": index}


def opening_delta(block: ReasoningBlock, index: int) -> dict[str, Any]:
    """The delta that opens reasoning block `index` in a stream (its whole entry so far)."""
    delta: dict[str, Any] = {
        "thinking_blocks": [{**block, "index": index}],
        "reasoning_details": [_detail(block, index)],
    }
    if block["type"] == "thinking" and block["thinking"]:
        delta = {"reasoning_content": block["thinking"], **delta}
    return delta


def thinking_delta(text: str, index: int) -> dict[str, Any]:
    return {
        "reasoning_content": text,
        "thinking_blocks": [{"type": "thinking", "thinking": text, "index": index}],
        "reasoning_details": [{"type": "reasoning.text", "text": text, "index": index}],
    }


def signature_delta(signature: str, index: int) -> dict[str, Any]:
    return {
        "thinking_blocks": [{"type": "thinking", "signature": signature, "index": index}],
        "reasoning_details": [{"type": "reasoning.text", "signature": signature, "index": index}],
    }


# --- up: an assistant message's fields -> Anthropic blocks ---------------------------------


def replay_blocks(message: dict[str, Any], where: str) -> list[ReasoningBlock]:
    """The reasoning blocks an assistant message carries, to send back first in its turn."""
    if message.get("thinking_blocks"):
        at = f"{where}.thinking_blocks"
        entries = _entries(message["thinking_blocks"], at)
        found = [_from_thinking_block(e, f"{at}[{j}]") for j, e in enumerate(entries)]
    elif message.get("reasoning_details"):
        at = f"{where}.reasoning_details"
        entries = _entries(message["reasoning_details"], at)
        found = [_from_detail(e, f"{at}[{j}]") for j, e in enumerate(entries)]
    else:
        return []
    return [block for block in found if block is not None]


def _entries(value: Any, at: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid_request(f"Invalid type for '{at}': expected an array.", at, "invalid_type")
    for j, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise invalid_request(
                f"Invalid type for '{at}[{j}]': expected an object.", f"{at}[{j}]", "invalid_type"
            )
    return value


def _from_thinking_block(entry: dict[str, Any], at: str) -> ReasoningBlock | None:
    kind = entry.get("type")
    if kind == "thinking":
        return _signed(_string(entry, "thinking", at), entry.get("signature"))
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": _string(entry, "data", at)}
    raise invalid_request(
        f"Invalid value for '{at}.type': expected 'thinking' or 'redacted_thinking'.",
        f"{at}.type",
        "invalid_value",
    )


def _from_detail(entry: dict[str, Any], at: str) -> ReasoningBlock | None:
    if entry.get("format", FORMAT) != FORMAT:
        return None  # another provider's reasoning: Claude cannot verify it
    kind = entry.get("type")
    if kind == "reasoning.text":
        return _signed(_string(entry, "text", at), entry.get("signature"))
    if kind == "reasoning.encrypted":
        return {"type": "redacted_thinking", "data": _string(entry, "data", at)}
    return None  # reasoning.summary and newer kinds have no Anthropic block


def _signed(thinking: str, signature: Any) -> ReasoningBlock | None:
    if not isinstance(signature, str) or not signature:
        return None  # unsigned reasoning cannot be replayed
    return {"type": "thinking", "thinking": thinking, "signature": signature}


def _string(entry: dict[str, Any], key: str, at: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise invalid_request(
            f"Invalid type for '{at}.{key}': expected a string, sent back exactly as received.",
            f"{at}.{key}",
            "invalid_type",
        )
    return value
