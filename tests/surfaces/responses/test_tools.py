"""proxy/surfaces/responses/tools.py: tools and tool_choice, namespaces flattened."""

from __future__ import annotations

import pytest

from proxy.surfaces.responses.tools import flat_name, translate_tool_choice, translate_tools


def test_namespace_without_trailing_separator_gets_one() -> None:
    tools = [{"type": "namespace", "name": "github", "description": "d",
              "tools": [{"type": "function", "name": "create_issue"}]}]  # fmt: skip
    chat = {"tools": translate_tools(tools)[0]}
    assert chat["tools"] == [{"type": "function", "function": {"name": "github__create_issue"}}]


@pytest.mark.parametrize(
    ("namespace", "name", "flat"),
    [
        ("github", "create_issue", "github__create_issue"),
        ("mcp__docs__", "search", "mcp__docs__search"),
    ],
)
def test_flat_name(namespace: str, name: str, flat: str) -> None:
    assert flat_name(namespace, name) == flat


def test_function_tool_keeps_description_schema_and_strict() -> None:
    tool = {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"},
            "strict": True}  # fmt: skip
    chat, namespaced = translate_tools([tool])
    function = {"name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True}
    assert chat == [{"type": "function", "function": function}]
    assert namespaced == {}


@pytest.mark.parametrize("mode", ["auto", "none", "required"])
def test_tool_choice_modes(mode: str) -> None:
    assert translate_tool_choice(mode, {}) == mode


def test_named_namespaced_tool_choice_is_flattened() -> None:
    choice = {"type": "function", "name": "search", "namespace": "mcp__docs__"}
    assert translate_tool_choice(choice, {}) == {
        "type": "function",
        "function": {"name": "mcp__docs__search"},
    }
