"""Responses `input` items -> Chat Completions `messages`.

Reference: openai.types.responses.ResponseInputItemParam.

- A string input is one user message.
- message items (with or without `"type": "message"`): user, system and developer content
  parts `input_text` -> text parts, `input_image` (by URL or data URL) -> `image_url` parts;
  assistant `output_text` parts join into `content`, `refusal` parts into `refusal`.
  Codex sends its instructions as developer messages: they stay developer messages (the
  outbound adapters put system and developer alike where their provider wants them).
- function_call items join the assistant message just before them (one assistant turn with
  several `tool_calls`), or open one; namespaced calls take their flattened name (tools.py).
- function_call_output -> a `tool` message (string output, or its `input_text` parts).
- reasoning items carry Claude thinking blocks in `encrypted_content` (reasoning.py); they
  become the `thinking_blocks` of the assistant turn that follows them. Others are dropped.
- item_reference and every item type that lives on OpenAI's servers (web_search_call,
  file_search_call, computer_call, ...) or has no Chat equivalent: a 400 naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.errors import ProxyError, invalid_request
from proxy.surfaces.responses.reasoning import decode_block
from proxy.surfaces.responses.tools import flat_name

_ROLES = frozenset({"user", "system", "developer", "assistant"})


def translate_input(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise _type("input", "a string or an array of input items")
    turns = _Turns()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _type(f"input[{i}]", "an object")
        turns.add(item, f"input[{i}]")
    return turns.result


@dataclass(slots=True)
class _Turns:
    messages: list[dict[str, Any]] = field(default_factory=list)
    thinking: list[dict[str, Any]] = field(default_factory=list)  # for the next assistant turn
    assistant: dict[str, Any] | None = None  # the open assistant turn function calls join

    def add(self, item: dict[str, Any], at: str) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            self._message(item, at)
        elif kind == "function_call":
            self._open_assistant()["tool_calls"].append(_call(item, at))
        elif kind == "function_call_output":
            self._close({"role": "tool", "tool_call_id": _string(item, "call_id", at)})
            self.messages[-1]["content"] = _tool_output(item.get("output"), f"{at}.output")
        elif kind == "reasoning":
            block = decode_block(item.get("encrypted_content"))
            if block is not None:
                self.thinking.append(block)
        else:
            raise _unsupported_item(kind, f"{at}.type")

    def _message(self, item: dict[str, Any], at: str) -> None:
        role = item.get("role")
        if role not in _ROLES:
            raise invalid_request(
                f"Invalid value for '{at}.role': expected one of user, system, developer, "
                "assistant.",
                f"{at}.role",
                "invalid_value",
            )
        if role != "assistant":
            self._close({"role": role, "content": _content(item.get("content"), f"{at}.content")})
            return
        message = self._open_assistant(fresh=True)
        text, refusal = _assistant_content(item.get("content"), f"{at}.content")
        message["content"] = text
        if refusal is not None:
            message["refusal"] = refusal

    def _open_assistant(self, fresh: bool = False) -> dict[str, Any]:
        if self.assistant is not None and not fresh:
            return self.assistant
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": []}
        if self.thinking:
            message["thinking_blocks"], self.thinking = self.thinking, []
        self.messages.append(message)
        self.assistant = message
        return message

    def _close(self, message: dict[str, Any]) -> None:
        self._drop_empty_calls()
        self.assistant = None
        self.thinking = []  # reasoning not followed by an assistant turn has nowhere to go
        self.messages.append(message)

    def _drop_empty_calls(self) -> None:
        if self.assistant is not None and not self.assistant["tool_calls"]:
            del self.assistant["tool_calls"]

    @property
    def result(self) -> list[dict[str, Any]]:
        self._drop_empty_calls()
        return self.messages


def _call(item: dict[str, Any], at: str) -> dict[str, Any]:
    name = _string(item, "name", at)
    namespace = item.get("namespace")
    if isinstance(namespace, str) and namespace:
        name = flat_name(namespace, name)
    function = {"name": name, "arguments": _string(item, "arguments", at)}
    return {"id": _string(item, "call_id", at), "type": "function", "function": function}


def _content(content: Any, at: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _type(at, "a string or an array of content parts")
    return [_part(part, f"{at}[{j}]") for j, part in enumerate(content)]


def _part(part: Any, at: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "input_text":
        return {"type": "text", "text": _string(part, "text", at)}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") is not None:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_image":
        raise invalid_request(
            f"'{at}' must carry an image_url (http(s) or data URL): file_id images need an "
            "openai deployment.",
            f"{at}.image_url",
            "unsupported_value",
        )
    raise _unsupported_part(kind, f"{at}.type")


def _assistant_content(content: Any, at: str) -> tuple[str | None, str | None]:
    if isinstance(content, str):
        return content, None
    if not isinstance(content, list):
        raise _type(at, "a string or an array of content parts")
    texts: list[str] = []
    refusals: list[str] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("output_text", "input_text"):
            texts.append(_string(part, "text", f"{at}[{j}]"))
        elif kind == "refusal":
            refusals.append(_string(part, "refusal", f"{at}[{j}]"))
        else:
            raise _unsupported_part(kind, f"{at}[{j}].type")
    return ("".join(texts) if texts else None), ("".join(refusals) if refusals else None)


def _tool_output(output: Any, at: str) -> Any:
    if isinstance(output, str):
        return output
    if not isinstance(output, list):
        raise _type(at, "a string or an array of content parts")
    parts = []
    for j, part in enumerate(output):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "input_text":
            raise _unsupported_part(kind, f"{at}[{j}].type")
        parts.append({"type": "text", "text": _string(part, "text", f"{at}[{j}]")})
    return parts


def _string(item: dict[str, Any], key: str, at: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise _type(f"{at}.{key}", "a string")
    return value


def _unsupported_item(kind: Any, at: str) -> ProxyError:
    hint = (
        " item_reference needs stored responses: send the items themselves."
        if kind == "item_reference"
        else ""
    )
    return invalid_request(
        f"Input item type {kind!r} is not supported by this deployment.{hint}",
        at,
        "unsupported_value",
    )


def _unsupported_part(kind: Any, at: str) -> ProxyError:
    return invalid_request(
        f"Content part type {kind!r} is not supported here by this deployment.",
        at,
        "unsupported_value",
    )


def _type(at: str, expected: str) -> ProxyError:
    return invalid_request(f"Invalid type for '{at}': expected {expected}.", at, "invalid_type")
