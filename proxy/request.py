"""Parse and validate an incoming Chat Completions request, once.

Only what the proxy relies on, and the known OpenAI parameters' types and ranges, are
checked; unknown fields are left for the upstream to judge. Messages mirror OpenAI's own
400 answers: `Invalid type for 'temperature': expected a number, but got a string instead.`
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from proxy.errors import ProxyError, invalid_request

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class ChatRequest(NamedTuple):  # a NamedTuple, as providers/base.py says why
    body: dict[str, Any]  # the parsed client JSON; adapters never mutate it
    # The client's bytes. Never forward them: with duplicate keys they say something other
    # than `body` (orjson keeps the last value); adapters serialize `body` (providers/openai.py).
    raw: bytes
    model: str
    stream: bool
    include_usage: bool
    # OpenRouter's `models`: public models to try in order (proxy/preferences.py); `model`
    # is its first entry. The upstream never sees the field: it is removed from `body`.
    models: tuple[str, ...] | None = None


DEFAULT_MAX_MODELS = 8  # server.max_request_models


def parse_chat_request(raw: bytes, max_models: int = DEFAULT_MAX_MODELS) -> ChatRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson also rejects nesting deeper than 1024 levels here, without recursion.
        raise invalid_request(
            f"We could not parse the JSON body of your request: {_short(str(exc))}",
            code="invalid_json",
        ) from exc
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    for name, check in _CHECKS.items():
        if name in body:
            check(name, body[name])
    models = None
    if "models" in body:
        body, models = _with_models(body, max_models)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        _missing_or_type("model", model, "a string")
    if "messages" not in body:
        raise invalid_request(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    stream = body.get("stream") is True
    options = body.get("stream_options")
    include_usage = bool(
        stream and isinstance(options, dict) and options.get("include_usage") is True
    )
    return ChatRequest(body, raw, model, stream, include_usage, models)


def _with_models(body: dict[str, Any], limit: int) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The body without `models` and with `model` set to its first entry, and the list.
    A `model` that disagrees with the first entry is a 400: which one was meant is a guess."""
    value = body["models"]
    if not isinstance(value, list) or not value:
        raise invalid_request(
            "Invalid 'models': expected a non-empty array of model names.", "models", "invalid_type"
        )
    if len(value) > limit:
        raise invalid_request(
            f"Invalid 'models': at most {limit} models may be listed, got {len(value)}.",
            "models",
            "array_above_max_length",
        )
    if not all(isinstance(m, str) and m for m in value):
        raise invalid_request(
            "Invalid 'models': every entry must be a non-empty string.", "models", "invalid_type"
        )
    model = body.get("model")
    if model is not None and model != value[0]:
        raise invalid_request(
            f"'model' ({_short(str(model))!r}) must be the first entry of 'models' "
            f"({_short(value[0])!r}); send one of them, or list them in the same order.",
            "models",
            "invalid_value",
        )
    clean = {k: v for k, v in body.items() if k != "models"}
    clean["model"] = value[0]
    return clean, tuple(value)


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _type_error(param: str, expected: str, value: Any) -> ProxyError:
    return invalid_request(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param,
        "invalid_type",
    )


def _missing_or_type(param: str, value: Any, expected: str) -> None:
    if value is None:
        raise invalid_request(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    raise _type_error(param, expected, value)


Check = Callable[[str, Any], None]


def _number(low: float | None = None, high: float | None = None, integer: bool = False) -> Check:
    expected = "an integer" if integer else "a number"

    def check(param: str, value: Any) -> None:
        if value is None:
            return  # OpenAI treats an explicit null as "not given"
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            raise _type_error(param, expected, value)
        if low is not None and value < low:
            raise invalid_request(
                f"Invalid '{param}': expected a value >= {low}, but got {value} instead.",
                param,
                "value_below_minimum",
            )
        if high is not None and value > high:
            raise invalid_request(
                f"Invalid '{param}': expected a value <= {high}, but got {value} instead.",
                param,
                "value_above_maximum",
            )

    return check


def _typed(kind: type | tuple[type, ...], expected: str) -> Check:
    def check(param: str, value: Any) -> None:
        if value is None:
            return
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise _type_error(param, expected, value)

    return check


def _check_messages(param: str, value: Any) -> None:
    if not isinstance(value, list):
        raise _type_error(param, "an array", value)
    if not value:
        raise invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            param,
            "empty_array",
        )
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _type_error(where, "an object", message)
        role = message.get("role")
        if role not in ROLES:
            raise invalid_request(
                f"Invalid value for '{where}.role': expected one of {', '.join(sorted(ROLES))}.",
                f"{where}.role",
                "invalid_value",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _type_error(f"{where}.content", "a string or an array of content parts", content)


def _check_stop(param: str, value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _type_error(param, "a string or an array of strings", value)
    if len(value) > 4:
        raise invalid_request(
            f"Invalid '{param}': array too long. Expected an array with maximum length 4.",
            param,
            "array_above_max_length",
        )


def _check_tool_choice(param: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise invalid_request(
                f"Invalid value for '{param}': expected 'none', 'auto', 'required' or an object.",
                param,
                "invalid_value",
            )
        return
    if not isinstance(value, dict):
        raise _type_error(param, "a string or an object", value)


def _check_response_format(param: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _type_error(param, "an object", value)
    kind = value.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid_request(
            f"Invalid value for '{param}.type': expected 'text', 'json_object' or 'json_schema'.",
            f"{param}.type",
            "invalid_value",
        )
    if kind == "json_schema" and not isinstance(value.get("json_schema"), dict):
        raise invalid_request(
            f"Missing required parameter: '{param}.json_schema'.",
            f"{param}.json_schema",
            "missing_required_parameter",
        )


def _check_tools(param: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise _type_error(param, "an array", value)
    for i, tool in enumerate(value):
        if not isinstance(tool, dict):
            raise _type_error(f"{param}[{i}]", "an object", tool)
        function = tool.get("function")
        if tool.get("type", "function") == "function" and (
            not isinstance(function, dict) or not isinstance(function.get("name"), str)
        ):
            raise invalid_request(
                f"Missing required parameter: '{param}[{i}].function.name'.",
                f"{param}[{i}].function.name",
                "missing_required_parameter",
            )


_CHECKS: dict[str, Check] = {
    "messages": _check_messages,
    "stream": _typed(bool, "a boolean"),
    "stream_options": _typed(dict, "an object"),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "n": _number(1, 128, integer=True),
    "max_tokens": _number(1, integer=True),
    "max_completion_tokens": _number(1, integer=True),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "logprobs": _typed(bool, "a boolean"),
    "top_logprobs": _number(0, 20, integer=True),
    "logit_bias": _typed(dict, "an object"),
    "seed": _number(integer=True),
    "user": _typed(str, "a string"),
    "stop": _check_stop,
    "tools": _check_tools,
    "tool_choice": _check_tool_choice,
    "parallel_tool_calls": _typed(bool, "a boolean"),
    "response_format": _check_response_format,
    "reasoning_effort": _typed(str, "a string"),
    "metadata": _typed(dict, "an object"),
    "store": _typed(bool, "a boolean"),
}
