"""proxy/providers/gemini/schema.py: JSON Schema -> the subset Gemini accepts."""

from __future__ import annotations

import copy

import pytest

from proxy.errors import ProxyError
from proxy.providers.gemini import to_gemini_request
from proxy.providers.gemini.schema import (
    MAX_INLINED_REFS,
    SchemaTooLarge,
    is_empty_object,
    sanitize_schema,
)
from tests.providers.gemini.golden import OPTIONS, body


def test_schema_refs_are_inlined_and_definitions_removed() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "definitions": {"Tag": {"type": "string", "enum": ["a", "b"]}},
        "type": "object",
        "properties": {
            "start": {"$ref": "#/$defs/Point", "description": "where it begins"},
            "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
            "pair": {
                "type": "array",
                "prefixItems": [{"$ref": "#/$defs/Point"}, {"type": "string"}],
            },
        },
    }
    before = copy.deepcopy(schema)
    point = {"type": "object", "properties": {"x": {"type": "number"}}}
    assert sanitize_schema(schema) == {
        "type": "object",
        "properties": {
            "start": {**point, "description": "where it begins"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "pair": {"type": "array", "prefixItems": [point, {"type": "string"}]},
        },
    }
    assert schema == before


def test_schema_recursion_is_cut() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
    }
    assert sanitize_schema(schema) == {
        "type": "object",
        "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {}},
        },
    }


def test_schema_keyword_conversions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "default": {"type": "string", "default": "x", "examples": ["y"], "x-order": 1},
            "kind": {"const": "fixed"},
            "count": {"const": 3},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer", "const": 1}]},
            "both": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "string"}}, "required": ["b", "a"]},
                ]
            },
            "map": {
                "type": "object",
                "patternProperties": {"^x": {"type": "string"}},
                "additionalProperties": {"type": "string", "$comment": "c"},
            },
            "gated": {"if": {}, "then": {}, "else": {}, "not": {}, "type": ["string", "null"]},
        },
        "additionalProperties": False,
        "unevaluatedProperties": False,
    }
    assert sanitize_schema(schema) == {
        "type": "object",
        "properties": {
            "default": {"type": "string"},
            "kind": {"enum": ["fixed"], "type": "string"},
            "count": {"enum": [3], "type": "integer"},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer", "enum": [1]}]},
            "both": {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "required": ["a", "b"],
            },
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "gated": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    }


def test_schema_unknown_refs_and_non_dicts() -> None:
    assert sanitize_schema({"$ref": "https://example.com/schema.json", "description": "d"}) == {
        "description": "d"
    }
    assert sanitize_schema(True) is True


def test_schema_blowup_is_refused() -> None:
    defs = {
        f"L{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/L{i + 1}"}, "b": {"$ref": f"#/$defs/L{i + 1}"}},
        }
        for i in range(20)
    }
    defs["L20"] = {"type": "string"}
    with pytest.raises(SchemaTooLarge):
        sanitize_schema({"$ref": "#/$defs/L0", "$defs": defs})
    assert MAX_INLINED_REFS < 2**20
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"$ref": "#/$defs/L0", "$defs": defs}},
    }
    with pytest.raises(ProxyError) as info:
        to_gemini_request(body(tools=[tool]), OPTIONS)
    assert info.value.status == 400 and info.value.param == "tools[0].function.parameters"


def test_empty_parameter_schemas_are_left_out() -> None:
    for empty in (
        {},
        {"type": "object"},
        {"type": "object", "properties": {}, "required": []},
        {"type": "object", "properties": {}, "additionalProperties": False},
    ):
        assert is_empty_object(empty)
    assert not is_empty_object({"type": "object", "properties": {"a": {}}})
    assert not is_empty_object({"type": "string"})
