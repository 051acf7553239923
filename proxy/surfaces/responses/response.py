"""A chat.completion -> the Responses `response` object, and the item and envelope builders
the stream translator shares.

Reference: openai.types.responses.Response, ResponseOutputMessage, ResponseFunctionToolCall,
ResponseReasoningItem, ResponseUsage. Output order: reasoning items, then the message
(output_text and refusal parts), then one function_call item per tool call: the order in
which the translated providers produce them, so a stream and its non-stream twin agree.

- Reasoning: each Claude thinking block (`thinking_blocks`) is one reasoning item; with no
  blocks, `reasoning_content` (Gemini thought summaries) is one. The text goes into
  `summary` only when the request asked for `reasoning.summary`, and the block into
  `encrypted_content` only when `include` asked for it (reasoning.py), as OpenAI does.
- finish_reason -> status: stop and tool_calls are `completed`; length and content_filter
  are `incomplete` with incomplete_details.reason max_output_tokens / content_filter.
- usage: prompt/completion/total -> input/output/total, cached and reasoning details kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from proxy.errors import upstream_transport_error
from proxy.surfaces.responses.context import ResponseContext
from proxy.surfaces.responses.reasoning import encode_block, summary_text
from proxy.surfaces.responses.wire import (
    FunctionCallItem,
    MessageItem,
    OutputItem,
    OutputText,
    ReasoningItem,
    Refusal,
    Status,
    SummaryText,
    Usage,
)

# Chat finish_reason -> (status, incomplete_details.reason). Reasons from
# openai.types.responses.Response.IncompleteDetails.
FINISH: Mapping[str, tuple[Status, str | None]] = MappingProxyType(
    {
        "stop": ("completed", None),
        "tool_calls": ("completed", None),
        "function_call": ("completed", None),
        "length": ("incomplete", "max_output_tokens"),
        "content_filter": ("incomplete", "content_filter"),
    }
)


def chat_to_response(
    completion: Mapping[str, Any], ctx: ResponseContext, provider: str = "upstream"
) -> dict[str, Any]:
    """The Response for a chat.completion; UpstreamError(malformed_response) if it has a
    shape no adapter produces (an openai-compatible upstream's answer arrives unchecked)."""
    try:
        return _response(completion, ctx)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        detail = "a chat completion of unexpected shape"
        raise upstream_transport_error(provider, "malformed_response", detail) from exc


def _response(completion: Mapping[str, Any], ctx: ResponseContext) -> dict[str, Any]:
    choices = completion.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    status, reason = FINISH.get(choice.get("finish_reason") or "stop", ("completed", None))
    output: list[OutputItem] = [*reasoning_items(message, ctx, 0)]
    text, refusal = message.get("content"), message.get("refusal")
    if text or refusal:
        parts: list[OutputText | Refusal] = [text_part(text)] if text else []
        if refusal:
            parts.append({"type": "refusal", "refusal": refusal})
        output.append(message_item(ctx, len(output), parts, _item_status(status)))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        call_id, name = call.get("id", ""), function.get("name", "")
        arguments = function.get("arguments", "")
        output.append(call_item(ctx, len(output), call_id, name, arguments, "completed"))
    usage = completion.get("usage")
    return envelope(ctx, status, output, responses_usage(usage) if usage else None, reason)


def envelope(
    ctx: ResponseContext,
    status: Status,
    output: list[OutputItem],
    usage: Usage | None = None,
    incomplete: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Response object around `output`, echoing the request's parameters."""
    return {
        "id": ctx.response_id,
        "object": "response",
        "created_at": ctx.created_at,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "model": ctx.model,
        "output": output,
        **ctx.echo,
        "usage": usage,
    }


def text_part(text: str) -> OutputText:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(
    ctx: ResponseContext, index: int, parts: list[OutputText | Refusal], status: Status
) -> MessageItem:
    return {
        "id": ctx.item_id("msg", index),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": parts,
    }


def call_item(
    ctx: ResponseContext, index: int, call_id: str, flat: str, arguments: str, status: Status
) -> FunctionCallItem:
    item: FunctionCallItem = {
        "id": ctx.item_id("fc", index),
        "type": "function_call",
        "call_id": call_id,
        "name": flat,
        "arguments": arguments,
        "status": status,
    }
    if flat in ctx.namespaced:
        item["namespace"], item["name"] = ctx.namespaced[flat]
    return item


def reasoning_item(
    ctx: ResponseContext, index: int, text: str, block: dict[str, Any] | None
) -> ReasoningItem:
    summary: list[SummaryText] = [{"type": "summary_text", "text": text}]
    item: ReasoningItem = {
        "id": ctx.item_id("rs", index),
        "type": "reasoning",
        "summary": summary if ctx.summary and text else [],
    }
    if ctx.encrypted and block is not None:
        item["encrypted_content"] = encode_block(block)
    return item


def reasoning_items(
    message: Mapping[str, Any], ctx: ResponseContext, start: int
) -> list[ReasoningItem]:
    blocks = message.get("thinking_blocks") or []
    if blocks:
        return [
            reasoning_item(ctx, start + i, summary_text(block), block)
            for i, block in enumerate(blocks)
        ]
    text = message.get("reasoning_content")
    return [reasoning_item(ctx, start, text, None)] if text else []


def responses_usage(usage: Mapping[str, Any]) -> Usage:
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": prompt_details.get("cached_tokens") or 0,
            "cache_write_tokens": prompt_details.get("cache_write_tokens") or 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": completion_details.get("reasoning_tokens") or 0
        },
        "total_tokens": usage.get("total_tokens") or prompt + completion,
    }


def _item_status(status: Status) -> Status:
    return "incomplete" if status == "incomplete" else "completed"
