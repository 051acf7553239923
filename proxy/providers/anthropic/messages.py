"""OpenAI `messages` -> Anthropic `system` and `messages` (pure; part of to_anthropic_request).

- `system` and `developer` messages, wherever they appear, become `system` text blocks in order.
- `user`, `assistant` and `tool` messages become turns; consecutive turns of one role merge.
  `tool` results are user content, so the results of one assistant turn and a following user
  message share one user turn, results first, right after the assistant's `tool_use` blocks
  (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use).
- Content: strings and text parts -> text blocks (empty ones dropped: Anthropic rejects them);
  `image_url` data URLs -> base64 image sources, http(s) URLs -> url sources; `file` parts with
  PDF data -> document blocks; assistant `tool_calls` -> `tool_use` blocks with the arguments
  parsed; `tool` messages -> `tool_result` blocks.
- An assistant message's `thinking_blocks` / `reasoning_details` go back first in its turn,
  unchanged (reasoning.py): Anthropic requires them before the `tool_use` blocks.
- Tool-call ids go through ids.to_anthropic_id, identically in `tool_use` and `tool_result`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import orjson

from proxy.errors import ProxyError, invalid_request, unsupported_parameter
from proxy.providers.anthropic.ids import to_anthropic_id
from proxy.providers.anthropic.reasoning import replay_blocks
from proxy.providers.anthropic.wire import (
    DOCUMENT_MEDIA_TYPES,
    IMAGE_MEDIA_TYPES,
    Base64Source,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    MessageParam,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)


class MessageOptions(Protocol):
    @property
    def provider(self) -> str: ...

    @property
    def drop_unsupported(self) -> bool: ...


def translate_messages(
    messages: list[dict[str, Any]], opts: MessageOptions
) -> tuple[list[TextBlock], list[MessageParam]]:
    system: list[TextBlock] = []
    turns: list[MessageParam] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message["role"]
        if role in ("system", "developer"):
            system.extend(_text_only(message.get("content"), where))
            continue
        blocks: list[ContentBlock]
        if role == "user":
            blocks = _user_content(message.get("content"), where, opts)
        elif role == "assistant":
            blocks = _assistant_content(message, where)
        elif role == "tool":
            blocks = [_tool_result(message, where)]
        else:
            raise invalid_request(
                f"Invalid value for '{where}.role': role '{role}' is not supported by provider "
                f"'{opts.provider}'. Use 'tools' and 'tool' messages instead of 'functions'.",
                f"{where}.role",
                "unsupported_value",
            )
        if not blocks:
            continue
        turn_role: Literal["user", "assistant"] = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    return system, turns


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    """Content as a list of parts: a string is one text part, null is none."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    for j, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise invalid_request(
                f"Invalid '{where}.content[{j}]': expected an object with a 'type'.",
                f"{where}.content[{j}]",
                "invalid_type",
            )
    parts: list[dict[str, Any]] = content
    return parts


def _text(part: dict[str, Any], key: str, where: str) -> list[TextBlock]:
    text = part.get(key)
    if not isinstance(text, str):
        raise invalid_request(f"Invalid '{where}.{key}': expected a string.", f"{where}.{key}")
    return [{"type": "text", "text": text}] if text else []


def _text_only(content: Any, where: str) -> list[TextBlock]:
    blocks: list[TextBlock] = []
    for j, part in enumerate(_parts(content, where)):
        if part["type"] != "text":
            raise _bad_part_type(where, j, part["type"], "'text'")
        blocks.extend(_text(part, "text", f"{where}.content[{j}]"))
    return blocks


def _user_content(content: Any, where: str, opts: MessageOptions) -> list[ContentBlock]:
    blocks: list[ContentBlock] = []
    for j, part in enumerate(_parts(content, where)):
        at = f"{where}.content[{j}]"
        kind = part["type"]
        if kind == "text":
            blocks.extend(_text(part, "text", at))
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), at))
        elif kind == "file":
            blocks.append(_document(part.get("file"), at, opts))
        elif kind == "input_audio":
            if not opts.drop_unsupported:
                raise unsupported_parameter(f"{at}.input_audio", opts.provider)
        else:
            raise _bad_part_type(where, j, kind, "'text', 'image_url' or 'file'")
    return blocks


def _bad_part_type(where: str, j: int, kind: str, expected: str) -> ProxyError:
    return invalid_request(
        f"Invalid value for '{where}.content[{j}].type': expected {expected}, got {kind!r}.",
        f"{where}.content[{j}].type",
        "invalid_value",
    )


def _data_url(url: str, at: str, allowed: frozenset[str]) -> Base64Source | None:
    """A `data:<type>;base64,<data>` URL as a base64 source; None if `url` is no data URL."""
    if not url.startswith("data:"):
        return None
    header, comma, data = url[5:].partition(",")
    media_type, *params = header.split(";")
    if not comma or "base64" not in params or not data:
        raise invalid_request(
            f"Invalid '{at}': expected a base64 data URL such as 'data:image/png;base64,...'.",
            at,
            "invalid_value",
        )
    if media_type not in allowed:
        raise invalid_request(
            f"Invalid '{at}': media type {media_type!r} is not supported "
            f"(supported: {', '.join(sorted(allowed))}).",
            at,
            "invalid_value",
        )
    return {"type": "base64", "media_type": media_type, "data": data}


def _image(image: Any, at: str) -> ImageBlock:
    url = image.get("url") if isinstance(image, dict) else None
    where = f"{at}.image_url.url"
    if not isinstance(url, str):
        raise invalid_request(
            f"Missing required parameter: '{where}'.", where, "missing_required_parameter"
        )
    source = _data_url(url, where, IMAGE_MEDIA_TYPES)
    if source is not None:
        return {"type": "image", "source": source}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise invalid_request(
        f"Invalid '{where}': expected an http(s) URL or a base64 data URL.", where, "invalid_value"
    )


def _document(file: Any, at: str, opts: MessageOptions) -> DocumentBlock:
    data = file.get("file_data") if isinstance(file, dict) else None
    where = f"{at}.file.file_data"
    if not isinstance(data, str):
        # Uploaded OpenAI file ids mean nothing to another provider.
        raise unsupported_parameter(f"{at}.file.file_id", opts.provider)
    source = _data_url(data, where, DOCUMENT_MEDIA_TYPES)
    if source is None:
        raise invalid_request(
            f"Invalid '{where}': expected a data URL such as 'data:application/pdf;base64,...'.",
            where,
            "invalid_value",
        )
    return {"type": "document", "source": source}


def _assistant_content(message: dict[str, Any], where: str) -> list[ContentBlock]:
    blocks: list[ContentBlock] = list(replay_blocks(message, where))
    for j, part in enumerate(_parts(message.get("content"), where)):
        # An assistant's earlier refusal is context like any other text it said.
        if part["type"] not in ("text", "refusal"):
            raise _bad_part_type(where, j, part["type"], "'text' or 'refusal'")
        blocks.extend(_text(part, part["type"], f"{where}.content[{j}]"))
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise invalid_request(
            f"Invalid '{where}.tool_calls': expected an array.", f"{where}.tool_calls"
        )
    blocks.extend(_tool_use(call, f"{where}.tool_calls[{k}]") for k, call in enumerate(calls))
    return blocks


def _tool_use(call: Any, at: str) -> ToolUseBlock:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise invalid_request(
            f"Missing required parameter: '{at}.function.name'.", f"{at}.function.name"
        )
    if not isinstance(call.get("id"), str):
        raise invalid_request(f"Missing required parameter: '{at}.id'.", f"{at}.id")
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise invalid_request(
            f"Invalid '{at}.function.arguments': expected a JSON object encoded as a string.",
            f"{at}.function.arguments",
            "invalid_value",
        )
    return {
        "type": "tool_use",
        "id": to_anthropic_id(call["id"]),
        "name": function["name"],
        "input": parsed,
    }


def _tool_result(message: dict[str, Any], where: str) -> ToolResultBlock:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid_request(
            f"Missing required parameter: '{where}.tool_call_id'.",
            f"{where}.tool_call_id",
            "missing_required_parameter",
        )
    block: ToolResultBlock = {"type": "tool_result", "tool_use_id": to_anthropic_id(call_id)}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    else:
        texts = _text_only(content, where)
        if texts:
            block["content"] = list(texts)
    return block
