"""A Responses request (already parsed JSON) -> the internal Chat Completions request.

Reference: openai.types.responses.ResponseCreateParams. Used only for translated
deployments (an openai deployment takes the Responses body as it is). Field by field:

| Responses                        | Chat Completions                                     |
|----------------------------------|------------------------------------------------------|
| input (items.py)                 | messages                                             |
| instructions                     | a leading system message                             |
| tools, tool_choice (tools.py)    | tools, tool_choice                                   |
| text.format json_schema / json_object | response_format                                 |
| text.verbosity                   | verbosity                                            |
| reasoning.effort                 | reasoning_effort                                     |
| reasoning.summary                | (reasoning text shown as summary_text in the answer) |
| max_output_tokens                | max_completion_tokens                                |
| temperature, top_p, parallel_tool_calls, metadata, user, safety_identifier, prompt_cache_key, prompt_cache_retention, service_tier | the same |
| stream                           | stream, with stream_options.include_usage (response.completed carries usage) |

`previous_response_id`, `store: true`, `background: true`, `truncation: "auto"` need state
or work on OpenAI's servers, and the parameters without a Chat equivalent are a 400 naming
them; so is any field this table does not know. `include` may only ask for
`reasoning.encrypted_content`; `stream_options` (include_obfuscation) and Codex's
`client_metadata` change nothing in the answer and are accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from proxy.errors import ProxyError, invalid_request
from proxy.surfaces.responses.context import ResponseContext
from proxy.surfaces.responses.items import translate_input
from proxy.surfaces.responses.tools import translate_tool_choice, translate_tools

ENCRYPTED = "reasoning.encrypted_content"
# Copied to the chat request under the same name when not null.
_SAME = ("temperature", "top_p", "parallel_tool_calls", "metadata", "user", "safety_identifier",
         "prompt_cache_key", "prompt_cache_retention", "service_tier")  # fmt: skip
# Accepted when null or at the value that needs no server-side state.
_STATELESS: Mapping[str, Callable[[Any], bool]] = MappingProxyType(
    {
        "previous_response_id": lambda v: v is None,
        "store": lambda v: v is None or v is False,
        "background": lambda v: v is None or v is False,
        "truncation": lambda v: v is None or v == "disabled",
        "conversation": lambda v: v is None,
        "prompt": lambda v: v is None,
        "max_tool_calls": lambda v: v is None,
        "top_logprobs": lambda v: v is None,
        "context_management": lambda v: v is None,
    }
)
_READ = frozenset(
    {"model", "input", "instructions", "tools", "tool_choice", "text", "reasoning",
     "max_output_tokens", "stream", "include", "stream_options", "client_metadata", *_SAME}
)  # fmt: skip
_FORMATS = frozenset({"text", "json_object", "json_schema"})
_SCHEMA_KEYS = ("name", "schema", "description", "strict")


@dataclass(frozen=True, slots=True)
class TranslatedRequest:
    chat: dict[str, Any]  # the Chat Completions request body
    context: ResponseContext
    stream: bool


def responses_to_chat(body: dict[str, Any], response_id: str, created_at: int) -> TranslatedRequest:
    model = _check_fields(body)
    messages = translate_input(body["input"])
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise _type("instructions", "a string")
        messages.insert(0, {"role": "system", "content": instructions})
    stream = body.get("stream") is True
    chat: dict[str, Any] = {"model": model, "messages": messages}
    chat.update((key, body[key]) for key in _SAME if body.get(key) is not None)
    namespaced = _tools(body, chat)
    _text(body.get("text"), chat)
    summary = _reasoning(body.get("reasoning"), chat)
    tokens = body.get("max_output_tokens")
    if tokens is not None:
        # Checked here: the chat checks would name the field max_completion_tokens.
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
            raise _type("max_output_tokens", "an integer of at least 1")
        chat["max_completion_tokens"] = tokens
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    context = ResponseContext(
        response_id=response_id,
        created_at=created_at,
        model=model,
        echo=MappingProxyType(_echo(body)),
        namespaced=MappingProxyType(namespaced),
        summary=summary,
        encrypted=ENCRYPTED in _include(body.get("include")),
    )
    return TranslatedRequest(chat, context, stream)


def _check_fields(body: dict[str, Any]) -> str:
    """Every field known and stateless, the required ones present; returns the model."""
    for key, value in body.items():
        _check_field(key, value)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request(
            "Missing required parameter: 'model'.", "model", "missing_required_parameter"
        )
    if "input" not in body:
        raise invalid_request(
            "Missing required parameter: 'input'.", "input", "missing_required_parameter"
        )
    return model


def _check_field(key: str, value: Any) -> None:
    if key in _READ:
        return
    check = _STATELESS.get(key)
    if check is None:
        raise invalid_request(f"Unknown parameter: '{key}'.", key, "unknown_parameter")
    if not check(value):
        raise invalid_request(
            f"Unsupported parameter: '{key}' with value {value!r} needs server-side state or "
            "tools that only an openai deployment has; this model is served by translation.",
            key,
            "unsupported_parameter",
        )


def _tools(body: dict[str, Any], chat: dict[str, Any]) -> dict[str, tuple[str, str]]:
    namespaced: dict[str, tuple[str, str]] = {}
    if body.get("tools"):
        chat["tools"], namespaced = translate_tools(body["tools"])
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = translate_tool_choice(body["tool_choice"], namespaced)
    return namespaced


def _text(text: Any, chat: dict[str, Any]) -> None:
    if text is None:
        return
    if not isinstance(text, dict):
        raise _type("text", "an object")
    for key in text:
        if key not in ("format", "verbosity"):
            raise invalid_request(
                f"Unknown parameter: 'text.{key}'.", f"text.{key}", "unknown_parameter"
            )
    verbosity = text.get("verbosity")
    if verbosity is not None:
        if not isinstance(verbosity, str):
            raise _type("text.verbosity", "a string")
        chat["verbosity"] = verbosity
    form = text.get("format")
    if form is None:
        return
    kind = form.get("type") if isinstance(form, dict) else None
    if kind not in _FORMATS:
        raise invalid_request(
            "Invalid value for 'text.format.type': expected text, json_object or json_schema.",
            "text.format.type",
            "invalid_value",
        )
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema = {key: form[key] for key in _SCHEMA_KEYS if form.get(key) is not None}
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}


def _reasoning(reasoning: Any, chat: dict[str, Any]) -> bool:
    """Sets reasoning_effort; True when the client asked for reasoning summaries."""
    if reasoning is None:
        return False
    if not isinstance(reasoning, dict):
        raise _type("reasoning", "an object")
    for key in reasoning:
        if key not in ("effort", "summary", "generate_summary"):
            raise invalid_request(
                f"Unknown parameter: 'reasoning.{key}'.", f"reasoning.{key}", "unknown_parameter"
            )
    effort = reasoning.get("effort")
    if effort is not None:
        if not isinstance(effort, str):
            raise _type("reasoning.effort", "a string")
        chat["reasoning_effort"] = effort
    return (reasoning.get("summary") or reasoning.get("generate_summary")) is not None


def _include(include: Any) -> list[str]:
    if include is None:
        return []
    if not isinstance(include, list):
        raise _type("include", "an array")
    for j, value in enumerate(include):
        if value != ENCRYPTED:
            raise invalid_request(
                f"Unsupported value for 'include[{j}]': {value!r}; this deployment can only "
                f"include '{ENCRYPTED}'.",
                f"include[{j}]",
                "unsupported_value",
            )
    return include


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    """The request fields a Response repeats, with OpenAI's defaults."""
    reasoning = body.get("reasoning") or {}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "text": body.get("text") or {"format": {"type": "text"}},
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "metadata": body.get("metadata") or {},
        "store": False,  # nothing is stored: a translated deployment is stateless
        "previous_response_id": None,
        "truncation": "disabled",
        "background": False,
        "user": body.get("user"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "safety_identifier": body.get("safety_identifier"),
    }


def _type(at: str, expected: str) -> ProxyError:
    return invalid_request(f"Invalid type for '{at}': expected {expected}.", at, "invalid_type")
