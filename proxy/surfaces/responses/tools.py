"""Responses `tools` and `tool_choice` -> Chat Completions `tools` and `tool_choice`.

Reference: openai.types.responses.FunctionToolParam, NamespaceToolParam, ToolChoice*.

- A function tool is flat in Responses (`{"type": "function", "name", "parameters", ...}`)
  and nested in Chat (`{"type": "function", "function": {...}}`).
- A `namespace` tool (Codex sends MCP servers this way) groups functions; Chat has no
  groups, so each nested function becomes one chat tool named `<namespace>__<name>` (no extra
  `__` when the namespace already ends in it). The map back is kept in the ResponseContext, so
  the answer's function_call items carry the original `name` and `namespace`. The
  namespace's own description has no Chat field and is not sent.
- Every other tool type (web_search, file_search, computer, custom, ...) runs on OpenAI's
  servers or has no Chat equivalent: a 400 naming the type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.errors import ProxyError, invalid_request

_FUNCTION_KEYS = frozenset({"type", "name", "description", "parameters", "strict"})
_NAMESPACE_KEYS = frozenset({"type", "name", "description", "tools"})
_CHOICE_MODES = frozenset({"auto", "none", "required"})


def flat_name(namespace: str, name: str) -> str:
    return namespace + name if namespace.endswith("__") else f"{namespace}__{name}"


def translate_tools(
    tools: Any, where: str = "tools"
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """(chat tools, flattened name -> (namespace, name) for namespaced functions)."""
    if not isinstance(tools, list):
        raise _type(where, "an array")
    chat: list[dict[str, Any]] = []
    namespaced: dict[str, tuple[str, str]] = {}
    for i, tool in enumerate(tools):
        at = f"{where}[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            chat.append(_function(tool, at, None))
        elif kind == "namespace":
            chat.extend(_namespace(tool, at, namespaced))
        else:
            raise _unsupported_tool(kind, f"{at}.type")
    names = [tool["function"]["name"] for tool in chat]
    for name in names:
        if names.count(name) > 1:
            raise invalid_request(
                f"Tool name '{name}' is defined twice (namespaced tools are flattened to "
                "'<namespace>__<name>'); rename one of them.",
                where,
                "duplicate_tool_name",
            )
    return chat, namespaced


def _function(tool: dict[str, Any], at: str, namespace: str | None) -> dict[str, Any]:
    _known_keys(tool, _FUNCTION_KEYS, at)
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise _type(f"{at}.name", "a non-empty string")
    function: dict[str, Any] = {"name": flat_name(namespace, name) if namespace else name}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _namespace(
    tool: dict[str, Any], at: str, namespaced: dict[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    _known_keys(tool, _NAMESPACE_KEYS, at)
    namespace, nested = tool.get("name"), tool.get("tools")
    if not isinstance(namespace, str) or not namespace:
        raise _type(f"{at}.name", "a non-empty string")
    if not isinstance(nested, list):
        raise _type(f"{at}.tools", "an array")
    chat = []
    for j, inner in enumerate(nested):
        kind = inner.get("type") if isinstance(inner, dict) else None
        if kind != "function":
            raise _unsupported_tool(kind, f"{at}.tools[{j}].type")
        translated = _function(inner, f"{at}.tools[{j}]", namespace)
        namespaced[translated["function"]["name"]] = (namespace, inner["name"])
        chat.append(translated)
    return chat


def translate_tool_choice(choice: Any, namespaced: Mapping[str, tuple[str, str]]) -> Any:
    """`auto` / `none` / `required` as they are; a named function -> Chat's nested form."""
    if isinstance(choice, str) and choice in _CHOICE_MODES:
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise _type("tool_choice.name", "a non-empty string")
        namespace = choice.get("namespace")
        if isinstance(namespace, str) and namespace:
            name = flat_name(namespace, name)
        return {"type": "function", "function": {"name": name}}
    kind = choice.get("type") if isinstance(choice, dict) else choice
    raise invalid_request(
        f"tool_choice {kind!r} is not supported by this deployment: use 'auto', 'none', "
        "'required' or {'type': 'function', 'name': ...}.",
        "tool_choice",
        "unsupported_value",
    )


def _known_keys(tool: dict[str, Any], known: frozenset[str], at: str) -> None:
    for key in tool:
        if key not in known:
            raise invalid_request(
                f"Unsupported parameter: '{at}.{key}' is not supported by this deployment.",
                f"{at}.{key}",
                "unsupported_parameter",
            )


def _unsupported_tool(kind: Any, at: str) -> ProxyError:
    return invalid_request(
        f"Tool type {kind!r} is not supported by this deployment: only 'function' and "
        "'namespace' tools can be translated (hosted tools need an openai deployment).",
        at,
        "unsupported_tool_type",
    )


def _type(at: str, expected: str) -> ProxyError:
    return invalid_request(f"Invalid type for '{at}': expected {expected}.", at, "invalid_type")
