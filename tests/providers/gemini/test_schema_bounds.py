"""gemini/schema.py bounds: what $ref inlining produces (nodes) and how deep a schema nests.

Over either bound the request is a 400 naming the tool (or response format), never a
multi-second, hundreds-of-MB expansion, and never a 500 from a RecursionError.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.errors import ProxyError
from proxy.providers.gemini.request import RequestOptions, to_gemini_request
from proxy.providers.gemini.schema import (
    DEFAULT_MAX_DEPTH,
    SchemaBudget,
    SchemaLimits,
    SchemaTooLarge,
    sanitize_schema,
)
from proxy.request import parse_chat_request

OPTIONS = RequestOptions(provider="gem")
MESSAGES = [{"role": "user", "content": "hi"}]


def _fan_out(properties: int, refs: int, description: str = "") -> dict[str, Any]:
    """One definition of `properties` properties, referenced `refs` times: small to send,
    properties * refs nodes once inlined."""
    big: dict[str, Any] = {
        "type": "object",
        "properties": {f"f{i}": {"type": "string"} for i in range(properties)},
    }
    if description:
        big["description"] = description
    return {
        "type": "object",
        "$defs": {"Big": big},
        "properties": {f"p{i}": {"$ref": "#/$defs/Big"} for i in range(refs)},
    }


def _tool(name: str, parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


AMPLIFIERS = {
    # Under the old bound (2,000 $ref expansions) these were built in full.
    "properties": _fan_out(properties=200, refs=2000),  # 400,000 dicts from 0.04 MB
    "description": _fan_out(properties=1, refs=1500, description="d" * 10_000),  # 15 MB out
}


@pytest.mark.parametrize("schema", list(AMPLIFIERS.values()), ids=list(AMPLIFIERS))
def test_inlining_past_the_node_bound_is_a_400_naming_the_tool(schema: dict[str, Any]) -> None:
    req = parse_chat_request(
        orjson.dumps({"model": "m", "messages": MESSAGES, "tools": [_tool("amplifier", schema)]})
    )
    with pytest.raises(ProxyError) as caught:
        to_gemini_request(req.body, OPTIONS)
    error = caught.value
    assert (error.status, error.param) == (400, "tools[0].function.parameters")
    assert "'amplifier'" in error.message


def test_the_node_bound_is_per_request_across_all_schemas() -> None:
    limits = RequestOptions(provider="gem", schema_limits=SchemaLimits(max_nodes=500))
    tools = [_tool(f"t{i}", _fan_out(properties=10, refs=10)) for i in range(5)]
    assert to_gemini_request({"model": "m", "messages": MESSAGES, "tools": tools[:1]}, limits)
    with pytest.raises(ProxyError) as caught:
        to_gemini_request({"model": "m", "messages": MESSAGES, "tools": tools}, limits)
    assert caught.value.status == 400 and "tool 't" in caught.value.message


def _deep_items(depth: int) -> bytes:
    return b'{"items": ' * depth + b'{"type": "string"}' + b"}" * depth


@pytest.mark.parametrize("where", ["tool", "response_format"])
def test_a_schema_nested_past_the_depth_bound_is_a_400_not_a_recursion_error(where: str) -> None:
    schema = _deep_items(1015)  # orjson parses up to 1024 levels
    if where == "tool":
        extra = b'"tools": [{"type": "function", "function": {"name": "deep", "parameters": %s}}]'
    else:
        extra = b'"response_format": {"type": "json_schema", "json_schema": {"name": "deep", "schema": %s}}'
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], %s}' % (extra % schema)
    req = parse_chat_request(raw)
    with pytest.raises(ProxyError) as caught:
        to_gemini_request(req.body, OPTIONS)
    assert caught.value.status == 400
    assert "'deep'" in caught.value.message


def test_depth_bound_counts_inlined_definitions() -> None:
    chain = {f"D{i}": {"type": "array", "items": {"$ref": f"#/$defs/D{i + 1}"}} for i in range(80)}
    chain["D80"] = {"type": "string"}
    with pytest.raises(SchemaTooLarge):
        sanitize_schema({"$ref": "#/$defs/D0", "$defs": chain})
    shallow = sanitize_schema({"$ref": "#/$defs/D70", "$defs": chain})
    assert shallow["items"]["items"]["type"] == "array"


def test_within_the_bounds_nothing_changes() -> None:
    schema = _fan_out(properties=5, refs=5)
    out = sanitize_schema(schema, SchemaBudget(SchemaLimits(max_nodes=1000)))
    assert out["properties"]["p4"]["properties"]["f4"] == {"type": "string"}
    nested = orjson.loads(_deep_items(DEFAULT_MAX_DEPTH - 1))
    assert sanitize_schema(nested) == nested


def test_a_huge_kept_value_is_counted_without_walking_all_of_it() -> None:
    # An enum nested as deep as orjson parses: counted iteratively, no RecursionError.
    deep_enum = orjson.loads(b"[" * 1000 + b"]" * 1000)
    assert sanitize_schema({"enum": deep_enum}) == {"enum": deep_enum}
    with pytest.raises(SchemaTooLarge):
        sanitize_schema({"enum": list(range(200))}, SchemaBudget(SchemaLimits(max_nodes=100)))
