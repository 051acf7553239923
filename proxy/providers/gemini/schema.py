"""OpenAI JSON Schemas (tool parameters, response_format) -> what Gemini accepts.

Choice: the adapter sends schemas in Gemini's JSON-Schema fields, `parametersJsonSchema`
(FunctionDeclaration) and `responseJsonSchema` (GenerationConfig), not in the older
OpenAPI-subset `parameters` / `responseSchema`. The JSON-Schema fields take standard
lowercase types, `type: [..., "null"]`, `anyOf`, `additionalProperties`, `required`,
`enum`, `format`, `minimum`/`maximum`, `minItems`/`maxItems`, `prefixItems` and
`propertyOrdering` as they are (google.genai.types.FunctionDeclaration documents
`parameters_json_schema` with `additionalProperties: false` in its own example, and the
SDK forwards `response_json_schema` untouched: `_transformers.t_json_schema`).

Still rewritten, because Gemini rejects or mishandles them (peers' trackers are full of
400s "Unknown name ... Cannot find field" for these) and they carry no generation
constraint the model could honour:

- `$ref` into `$defs` / `definitions` is inlined, and the definitions removed. A
  recursive reference is cut to `{}` (any value) at its second visit, as the google-genai
  SDK's own `process_schema` does.
- `const: X` becomes `enum: [X]` (typed after X when no `type` is given); `oneOf` becomes `anyOf` (for generation the two guide the
  model alike); `allOf` is merged into its parent (properties and required united).
- Dropped: `$schema`, `$id`, `$anchor`, `$comment`, `default`, `examples`,
  `patternProperties`, `unevaluated*`, `dependent*`, `if`/`then`/`else`, `not`,
  `contains`, `propertyNames`, `content*`, `deprecated`, `readOnly`, `writeOnly` and
  `x-` vendor extensions.

Property names are data, not keywords: a property called `default` is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DROPPED_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$anchor",
        "$comment",
        "$dynamicRef",
        "$dynamicAnchor",
        "$vocabulary",
        "$defs",
        "definitions",
        "default",
        "examples",
        "patternProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "if",
        "then",
        "else",
        "not",
        "contains",
        "minContains",
        "maxContains",
        "propertyNames",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_SCHEMA_LISTS = ("anyOf", "prefixItems")
_REF_PREFIXES = ("#/$defs/", "#/definitions/")
# A `const` without a `type` gets the type of its value: Gemini's enum wants a typed schema.
_JSON_TYPES: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}
# Inlining a definition referenced from many places multiplies the schema; a hostile schema
# could make it exponential. Past this many inlined references the schema is refused.
MAX_INLINED_REFS = 2000


class SchemaTooLarge(ValueError):
    """Inlining the schema's $refs would exceed MAX_INLINED_REFS."""


def sanitize_schema(schema: Any) -> Any:
    """A copy of `schema` that Gemini's JSON-Schema fields accept; the input is not changed."""
    if not isinstance(schema, dict):
        return schema
    definitions: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        found = schema.get(key)
        if isinstance(found, dict):
            definitions.update(found)
    return _Sanitizer(definitions).node(schema, ())


class _Sanitizer:
    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self._definitions = definitions
        self._inlined = 0

    def node(self, schema: Any, expanding: tuple[str, ...]) -> Any:
        if not isinstance(schema, dict):
            return schema  # boolean schemas (e.g. additionalProperties: false) stay as they are
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self._inline(ref, schema, expanding)
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in DROPPED_KEYWORDS or key == "$ref" or key.startswith("x-"):
                continue
            if key == "const":
                out.setdefault("enum", [value])
                if "type" not in schema and type(value) in _JSON_TYPES:
                    out["type"] = _JSON_TYPES[type(value)]
            elif key == "oneOf":
                out["anyOf"] = self._list(value, expanding)
            elif key == "allOf":
                continue  # merged below, after the node's own keywords
            elif key == "properties" and isinstance(value, dict):
                out[key] = {name: self.node(sub, expanding) for name, sub in value.items()}
            elif key in ("items", "additionalProperties"):
                out[key] = self.node(value, expanding)
            elif key in _SCHEMA_LISTS:
                out[key] = self._list(value, expanding)
            else:
                out[key] = value
        if isinstance(schema.get("allOf"), list):
            for part in self._list(schema["allOf"], expanding):
                _merge(out, part)
        return out

    def _list(self, value: Any, expanding: tuple[str, ...]) -> Any:
        if not isinstance(value, list):
            return value
        return [self.node(item, expanding) for item in value]

    def _inline(self, ref: str, schema: dict[str, Any], expanding: tuple[str, ...]) -> Any:
        name = _definition_name(ref)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if name is None or name not in self._definitions or name in expanding:
            # Unknown or remote ref, or recursion: the model gets "any value" here.
            return self.node(siblings, expanding)
        self._inlined += 1
        if self._inlined > MAX_INLINED_REFS:
            raise SchemaTooLarge(f"more than {MAX_INLINED_REFS} $ref expansions")
        resolved = self.node(self._definitions[name], (*expanding, name))
        if not isinstance(resolved, dict):
            return resolved
        # Keywords written next to the $ref (description, title) refine the definition.
        return {**resolved, **self.node(siblings, expanding)}


def _definition_name(ref: str) -> str | None:
    for prefix in _REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
    return None


def _merge(target: dict[str, Any], part: Any) -> None:
    if not isinstance(part, dict):
        return
    for key, value in part.items():
        if key == "properties" and isinstance(value, dict):
            target.setdefault("properties", {}).update(value)
        elif key == "required" and isinstance(value, list):
            required = target.setdefault("required", [])
            required.extend(name for name in value if name not in required)
        else:
            target.setdefault(key, value)


def is_empty_object(schema: Any) -> bool:
    """True for a parameters schema that declares nothing (`{"type": "object", "properties": {}}`).

    Gemini's function declarations treat absent parameters as "no arguments"; an empty
    object schema has been answered with 400 "properties: should be non-empty for OBJECT
    type" by older model versions, so it is left out.
    """
    if not isinstance(schema, dict):
        return False
    remaining = {k: v for k, v in schema.items() if k not in ("additionalProperties", "title")}
    if remaining.get("required") == []:
        del remaining["required"]
    return remaining in ({}, {"type": "object"}, {"type": "object", "properties": {}})
