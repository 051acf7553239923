"""Anthropic Messages request -> OpenAI Chat Completions request, as one pure function.

For deployments that do not speak Messages (openai, gemini): the result goes through that
provider's own adapter. Field reference: https://docs.anthropic.com/en/api/messages and
`anthropic.types.MessageCreateParams`.

- `system` (string or text blocks) -> a first `system` message; a mid-conversation system
  turn -> a system message in place.
- user blocks: text -> text parts; image (base64 / url) -> image_url parts (data URL / URL);
  tool_result -> `tool` messages, placed before the turn's other content as Chat
  Completions requires (is_error results keep their text; their images, which a tool
  message cannot carry, go into the user message that follows). document and other block types
  are a 400 naming the block.
- assistant blocks: text -> content; tool_use -> tool_calls (input as compact JSON, ids via
  the anthropic ids mapping); thinking and redacted_thinking are dropped: their signature is
  Claude's and no other provider can verify them.
- tools: custom tools -> function tools (`input_schema` -> `parameters`); server tools
  (web_search, bash, ...) are a 400 naming `tools.N.type`. tool_choice auto/any/tool/none ->
  auto/required/named/none; disable_parallel_tool_use -> parallel_tool_calls false.
- max_tokens -> max_completion_tokens; stop_sequences -> stop; temperature, top_p as is;
  metadata.user_id -> user; top_k has no counterpart: 400.
- thinking -> reasoning_effort: `output_config.effort` when given (adaptive thinking plus an
  effort setting map to the one control, issue 14), else by budget (THINKING_EFFORTS);
  `disabled` -> none sent.
- stream -> stream with stream_options.include_usage (usage is needed for message_delta).
- Prompt-caching and server-side fields (cache_control, context_management, container,
  service_tier, ...) are dropped: they change cost or server state, not the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson

from proxy.errors import ProxyError, invalid_request
from proxy.providers.anthropic.ids import from_anthropic_id

# (upper bound of budget_tokens, effort), first match wins: Anthropic's minimum budget is
# 1024 (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
THINKING_EFFORTS: tuple[tuple[int, str], ...] = ((2048, "low"), (8192, "medium"))
# output_config.effort -> reasoning_effort (Anthropic's `max` is the top of the scale).
EFFORTS: Mapping[str, str] = MappingProxyType(
    {"low": "low", "medium": "medium", "high": "high", "max": "high"}
)
_TOOL_CHOICES: Mapping[str, str] = MappingProxyType(
    {"auto": "auto", "any": "required", "none": "none"}
)
# Fields with no Chat Completions counterpart that would change the answer.
_UNTRANSLATABLE = ("top_k", "container", "mcp_servers")


def to_chat_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Chat Completions body for a validated Messages body (request.py); a 400 for a
    body whose blocks or tools lack what the Messages API requires of them."""
    try:
        return _to_chat(body)
    except (KeyError, TypeError, AttributeError) as exc:
        raise invalid_request(
            f"The request does not have the Messages API shape ({type(exc).__name__}: "
            f"{str(exc)[:80]}); see https://docs.anthropic.com/en/api/messages.",
            code="invalid_request",
        ) from exc


def _to_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    for name in _UNTRANSLATABLE:
        if body.get(name) is not None:
            raise _cannot(name, "has no counterpart on this model's provider")
    messages = _system(body.get("system"))
    for i, message in enumerate(body["messages"]):
        messages.extend(_message(message, f"messages.{i}"))
    out: dict[str, Any] = {
        "model": body["model"],
        "messages": messages,
        "max_completion_tokens": body["max_tokens"],
    }
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    effort = _effort(body.get("thinking"), body.get("output_config"))
    if effort is not None:
        out["reasoning_effort"] = effort
    _tools(body, out)
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _cannot(field: str, why: str) -> ProxyError:
    return invalid_request(
        f"{field}: {why}; it cannot be translated to Chat Completions. Remove it, or route "
        "this model to an anthropic deployment.",
        field,
        "unsupported_parameter",
    )


def _system(system: Any) -> list[dict[str, Any]]:
    text = _text_of(system, "system")
    return [{"role": "system", "content": text}] if text else []


def _text_of(content: Any, where: str) -> str:
    """A string, or text blocks joined (Anthropic's system and tool_result content)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid_request(f"{where}: expected a string or text blocks.", where)
    texts = []
    for j, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _cannot(f"{where}.{j}.type", "only text blocks are supported here")
        texts.append(str(block.get("text", "")))
    return "\n\n".join(texts)


def _message(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    role, content = message["role"], message["content"]
    if role == "system":
        return [{"role": "system", "content": _text_of(content, f"{where}.content")}]
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role == "assistant":
        return [_assistant(content, where)]
    return _user(content, where)


def _assistant(blocks: list[dict[str, Any]], where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        kind = block["type"]
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": from_anthropic_id(str(block["id"])),
                    "type": "function",
                    "function": {"name": block["name"], "arguments": arguments},
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise _cannot(f"{where}.content.{j}.type", f"block type '{kind}'")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        out["tool_calls"] = calls
    return out


def _user(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        kind, at = block["type"], f"{where}.content.{j}"
        if kind == "text":
            if block.get("text"):
                parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append(_image(block.get("source"), at))
        elif kind == "tool_result":
            content = block.get("content")
            if isinstance(content, list):  # images cannot ride in a tool message: they follow
                images = [b for b in content if isinstance(b, dict) and b.get("type") == "image"]
                parts += [_image(b.get("source"), at) for b in images]
                content = [b for b in content if b not in images]
            text = _text_of(content, f"{at}.content")
            if block.get("is_error") is True and not text:
                text = "error"
            call_id = from_anthropic_id(str(block.get("tool_use_id", "")))
            results.append({"role": "tool", "tool_call_id": call_id, "content": text})
        else:
            raise _cannot(f"{at}.type", f"block type '{kind}'")
    if parts:
        results.append({"role": "user", "content": parts})
    return results


def _image(source: Any, where: str) -> dict[str, Any]:
    if isinstance(source, dict) and source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif isinstance(source, dict) and source.get("type") == "url":
        url = str(source.get("url"))
    else:
        raise _cannot(f"{where}.source", "only base64 and url image sources are supported")
    return {"type": "image_url", "image_url": {"url": url}}


def _effort(thinking: Any, output_config: Any) -> str | None:
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return None
    effort = output_config.get("effort") if isinstance(output_config, dict) else None
    if isinstance(effort, str):
        if effort not in EFFORTS:
            raise invalid_request(
                f"output_config.effort: expected one of {', '.join(EFFORTS)}.",
                "output_config.effort",
            )
        return EFFORTS[effort]
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        budget = budget if isinstance(budget, int) else 0
        return next((e for bound, e in THINKING_EFFORTS if budget <= bound), "high")
    if kind == "adaptive":
        return "medium"
    return None


def _tools(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if not tools:
        return
    functions = []
    for i, tool in enumerate(tools):
        if tool.get("type", "custom") != "custom":
            raise _cannot(f"tools.{i}.type", f"server tool type '{tool.get('type')}'")
        function: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
        functions.append({"type": "function", "function": function})
    out["tools"] = functions
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif isinstance(kind, str) and kind in _TOOL_CHOICES:
        out["tool_choice"] = _TOOL_CHOICES[kind]
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False
