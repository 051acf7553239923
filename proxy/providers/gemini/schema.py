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

Inlining multiplies: a 121 KB request (a 2,000-property definition referenced 2,000 times)
would build 4 M dicts. So what is bounded is the size of what is produced, not the number
of references: every request's schemas together may produce at most `max_nodes` JSON values
(a string counts 1 more per STRING_CHARS_PER_NODE characters, so a long description
inlined many times counts too), each schema nested at most `max_depth` objects deep (a
deeper one would also exhaust Python's recursion). Past either, SchemaTooLarge: a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
# Defaults of the Gemini provider options max_schema_nodes / max_schema_depth. 100,000
# nodes produce at most a few MB of JSON (about the default max_body_bytes); no real tool
# schema comes near 64 levels (OpenAI's strict mode allows 10).
DEFAULT_MAX_NODES = 100_000
DEFAULT_MAX_DEPTH = 64
MAX_DEPTH_CEILING = 100  # the most max_depth may be configured to (see adapter.py)
STRING_CHARS_PER_NODE = 100
MAX_INLINED_REFS = DEFAULT_MAX_NODES  # the old name: the bound is on produced nodes now


class SchemaTooLarge(ValueError):
    """The schema would produce more nodes, or nest deeper, than its SchemaBudget allows."""


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    max_nodes: int = DEFAULT_MAX_NODES  # JSON values produced by one request's schemas
    max_depth: int = DEFAULT_MAX_DEPTH  # objects nested in one schema


DEFAULT_LIMITS = SchemaLimits()


class SchemaBudget:
    """What one request's schemas (all its tools and its response_format) may still produce."""

    def __init__(self, limits: SchemaLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.nodes_left = limits.max_nodes

    def spend(self, nodes: int) -> None:
        self.nodes_left -= nodes
        if self.nodes_left < 0:
            self.nodes_left = -1  # stays exhausted
            raise SchemaTooLarge(
                f"it expands to more than {self.limits.max_nodes} schema nodes "
                "once its $refs are inlined"
            )


def sanitize_schema(schema: Any, budget: SchemaBudget | None = None) -> Any:
    """A copy of `schema` that Gemini's JSON-Schema fields accept; the input is not changed.
    SchemaTooLarge when it exceeds the budget (by default a fresh one of default limits)."""
    if not isinstance(schema, dict):
        return schema
    definitions: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        found = schema.get(key)
        if isinstance(found, dict):
            definitions.update(found)
    return _Sanitizer(definitions, budget or SchemaBudget()).node(schema, (), 1)


class _Sanitizer:
    def __init__(self, definitions: Mapping[str, Any], budget: SchemaBudget) -> None:
        self._definitions = definitions
        self._budget = budget

    def node(self, schema: Any, expanding: tuple[str, ...], depth: int) -> Any:
        if not isinstance(schema, dict):
            self._budget.spend(_weight(schema, self._budget.nodes_left))
            return schema  # boolean schemas (e.g. additionalProperties: false) stay as they are
        if depth > self._budget.limits.max_depth:
            raise SchemaTooLarge(f"it nests deeper than {self._budget.limits.max_depth} levels")
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self._inline(ref, schema, expanding, depth)
        spent = 1  # this node, and below what it keeps as it is; charged once, at its end
        out: dict[str, Any] = {}
        deeper = depth + 1
        for key, value in schema.items():
            if key in DROPPED_KEYWORDS or key == "$ref" or key.startswith("x-"):
                continue
            if key == "const":
                spent += _weight(value, self._budget.nodes_left)
                out.setdefault("enum", [value])
                if "type" not in schema and type(value) in _JSON_TYPES:
                    out["type"] = _JSON_TYPES[type(value)]
            elif key == "oneOf":
                out["anyOf"] = self._list(value, expanding, deeper)
            elif key == "allOf":
                continue  # merged below, after the node's own keywords
            elif key == "properties" and isinstance(value, dict):
                names = sum(len(name) for name in value) // STRING_CHARS_PER_NODE
                spent += len(value) + names  # the property names
                out[key] = {name: self.node(sub, expanding, deeper) for name, sub in value.items()}
            elif key in ("items", "additionalProperties"):
                out[key] = self.node(value, expanding, deeper)
            elif key in _SCHEMA_LISTS:
                out[key] = self._list(value, expanding, deeper)
            else:
                # Kept as it is: shared, not copied, but written out once per place it
                # appears, so it counts every time.
                spent += _weight(value, self._budget.nodes_left)
                out[key] = value
        if isinstance(schema.get("allOf"), list):
            for part in self._list(schema["allOf"], expanding, deeper):
                _merge(out, part)
        self._budget.spend(spent)
        return out

    def _list(self, value: Any, expanding: tuple[str, ...], depth: int) -> Any:
        if not isinstance(value, list):
            self._budget.spend(_weight(value, self._budget.nodes_left))
            return value
        return [self.node(item, expanding, depth) for item in value]

    def _inline(
        self, ref: str, schema: dict[str, Any], expanding: tuple[str, ...], depth: int
    ) -> Any:
        name = _definition_name(ref)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if name is None or name not in self._definitions or name in expanding:
            # Unknown or remote ref, or recursion: the model gets "any value" here.
            return self.node(siblings, expanding, depth)
        resolved = self.node(self._definitions[name], (*expanding, name), depth)
        if not isinstance(resolved, dict):
            return resolved
        # Keywords written next to the $ref (description, title) refine the definition.
        return {**resolved, **self.node(siblings, expanding, depth)}


def _weight(value: Any, limit: int) -> int:
    """The nodes a value kept as it is adds to the output, counted up to just past `limit`
    (the nodes left): so all walks together cost at most the budget. Iterative, as a kept
    value (an enum of nested arrays) may nest as deep as orjson parses (1024)."""
    if isinstance(value, str):  # the usual cases first, without a walk
        return 1 + len(value) // STRING_CHARS_PER_NODE
    if not isinstance(value, list | dict):
        return 1
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        total += 1
        if isinstance(item, str):
            total += len(item) // STRING_CHARS_PER_NODE
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            total += sum(len(key) // STRING_CHARS_PER_NODE for key in item)
            pending.extend(item.values())
    return total


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
