"""Anthropic Message -> OpenAI chat.completion, plus the finish-reason and usage tables that
the stream translator shares.

Anthropic reference: https://docs.anthropic.com/en/api/messages (response `content`,
`stop_reason`, `usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import orjson

from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.anthropic.ids import from_anthropic_id
from proxy.providers.anthropic.reasoning import reasoning_fields
from proxy.providers.anthropic.wire import JSON_TOOL_NAME, ReasoningBlock
from proxy.providers.base import CallContext, OpenAIResponse, Usage

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

# Anthropic stop_reason -> OpenAI finish_reason. Source: the `stop_reason` field of
# https://docs.anthropic.com/en/api/messages (and anthropic.types.StopReason). pause_turn
# means a server tool paused a long turn; the answer so far is complete text, so "stop".
FINISH_REASONS: Mapping[str, FinishReason] = MappingProxyType(
    {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
        "pause_turn": "stop",
    }
)


def finish_reason(stop_reason: Any, tool_calls: int) -> FinishReason:
    """Always one of the four; an unknown or missing stop_reason is "stop"."""
    reason = FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    if reason == "tool_calls" and tool_calls == 0:
        return "stop"  # only the json tool was called: its input is the message content
    return reason


def openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic usage -> OpenAI usage. Anthropic's `input_tokens` excludes cached tokens; the
    total input is input + cache read + cache creation (anthropic.types.Usage docstring)."""
    read = _count(usage, "cache_read_input_tokens")
    prompt = _count(usage, "input_tokens") + read + _count(usage, "cache_creation_input_tokens")
    completion = _count(usage, "output_tokens")
    details = usage.get("output_tokens_details")
    reasoning = _count(details, "thinking_tokens") if isinstance(details, dict) else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def usage_record(usage: Mapping[str, Any]) -> Usage:
    return Usage(
        prompt=usage["prompt_tokens"],
        completion=usage["completion_tokens"],
        cached=usage["prompt_tokens_details"]["cached_tokens"],
        reasoning=usage["completion_tokens_details"]["reasoning_tokens"],
    )


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def compact_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def from_anthropic_response(
    message: Mapping[str, Any], ctx: CallContext, provider: str = "anthropic"
) -> OpenAIResponse:
    """A parsed Anthropic Message -> the OpenAI chat.completion dict.

    Text blocks join into `content`; `tool_use` blocks become `tool_calls` (arguments as
    compact JSON); thinking text becomes `reasoning_content`, and thinking and
    redacted_thinking blocks, signatures included, `thinking_blocks` and `reasoning_details`
    (reasoning.py); the json tool's input becomes `content` (json mode). Raises
    UpstreamError(malformed_response) on a shape it cannot read.
    """
    blocks = message.get("content")
    if not isinstance(blocks, list):
        raise _malformed(provider, "the message has no 'content' array")
    read = _read_blocks(blocks, provider)
    usage = message.get("usage")
    return {
        "id": ctx.response_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.public_model,
        "choices": [
            {
                "index": 0,
                "message": read.reply(),
                "logprobs": None,
                "finish_reason": finish_reason(message.get("stop_reason"), len(read.calls)),
            }
        ],
        "usage": openai_usage(usage if isinstance(usage, dict) else {}),
        "system_fingerprint": None,
    }


@dataclass(slots=True)
class _Blocks:
    """A Message's content blocks, sorted by where they go in the OpenAI message."""

    texts: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)
    reasoning: list[ReasoningBlock] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    json_answer: str | None = None

    def reply(self) -> dict[str, Any]:
        if self.json_answer is not None:
            content: str | None = self.json_answer
        else:
            content = "".join(self.texts) if self.texts or not self.calls else None
        reply: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if self.calls:
            reply["tool_calls"] = self.calls
        if self.thoughts:
            reply["reasoning_content"] = "".join(self.thoughts)
        if self.reasoning:
            reply.update(reasoning_fields(self.reasoning))
        return reply


def _read_blocks(blocks: list[Any], provider: str) -> _Blocks:
    read = _Blocks()
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            read.texts.append(_field(block, "text", str, i, provider))
        elif kind == "thinking":
            thinking = _field(block, "thinking", str, i, provider)
            signature = _field(block, "signature", str, i, provider)
            read.thoughts.append(thinking)
            read.reasoning.append(
                {"type": "thinking", "thinking": thinking, "signature": signature}
            )
        elif kind == "redacted_thinking":
            data = _field(block, "data", str, i, provider)
            read.reasoning.append({"type": "redacted_thinking", "data": data})
        elif kind == "tool_use":
            name = _field(block, "name", str, i, provider)
            arguments = compact_json(_field(block, "input", dict, i, provider))
            if name == JSON_TOOL_NAME:
                read.json_answer = arguments
            else:
                call_id = from_anthropic_id(_field(block, "id", str, i, provider))
                read.calls.append(_tool_call(call_id, name, arguments))
        # Server-tool blocks have no OpenAI counterpart.
    return read


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _field(block: Mapping[str, Any], key: str, kind: type, i: int, provider: str) -> Any:
    value = block.get(key)
    if not isinstance(value, kind):
        raise _malformed(provider, f"content[{i}].{key} is not a {kind.__name__}")
    return value


def _malformed(provider: str, detail: str) -> UpstreamError:
    return upstream_transport_error(provider, "malformed_response", detail)
