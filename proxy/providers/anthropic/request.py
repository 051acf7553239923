"""OpenAI Chat Completions request -> Anthropic Messages request, as one pure function.

Rules (design.md §3; Anthropic reference: https://docs.anthropic.com/en/api/messages):

- `messages` -> `system` and turns: see messages.py.
- `max_completion_tokens` wins over `max_tokens`; when both are absent `max_tokens` is the
  provider option `default_max_tokens` (DEFAULT_MAX_TOKENS), plus the thinking budget if any.
- `reasoning_effort` -> `thinking` with the EFFORT_BUDGETS budget, kept below `max_tokens`
  (a smaller client limit lowers the budget, never the client's value); a client limit that
  leaves no room for Anthropic's minimum budget of 1024 is a 400.
- Parameters Anthropic cannot honour are a 400 naming them (or dropped with
  `drop_unsupported: true`); parameters whose absence changes nothing visible are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from proxy.errors import invalid_request, unsupported_parameter
from proxy.providers.anthropic.messages import translate_messages
from proxy.providers.anthropic.wire import JSON_TOOL_NAME, AnthropicRequest, ToolChoice, ToolParam
from proxy.providers.base import CallContext, OpenAIRequest

# Every Claude model accepts 4096 output tokens, so the default never trips a model limit.
DEFAULT_MAX_TOKENS = 4096
# https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking: budget_tokens must be
# >= 1024 and less than max_tokens.
MIN_THINKING_BUDGET = 1024
EFFORT_BUDGETS: Mapping[str, int] = MappingProxyType(
    {"minimal": 1024, "low": 2048, "medium": 4096, "high": 8192, "xhigh": 16384, "max": 24576}
)


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What a provider's config adds to translation."""

    provider: str = "anthropic"
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    drop_unsupported: bool = False


# Read by the translation below.
_TRANSLATED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "safety_identifier",
        "reasoning_effort",
        "response_format",
    }
)
# Dropped silently: they change nothing the client can observe in a Claude answer
# (stream_options.include_usage is honoured through CallContext.include_usage).
_IGNORED = frozenset(
    {
        "store",
        "metadata",
        "stream_options",
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "verbosity",
    }
)


def _always(value: Any) -> bool:
    return True


# Parameter -> "is this value one Anthropic cannot honour?" (a default value is harmless).
_UNSUPPORTED: Mapping[str, Callable[[Any], bool]] = MappingProxyType(
    {
        "n": lambda v: v != 1,
        "logprobs": lambda v: v is not False,
        "top_logprobs": lambda v: v != 0,
        "logit_bias": lambda v: bool(v),
        "presence_penalty": lambda v: v != 0,
        "frequency_penalty": lambda v: v != 0,
        "modalities": lambda v: v != ["text"],
        "seed": _always,
        "audio": _always,
        "prediction": _always,
        "web_search_options": _always,
        "functions": _always,
        "function_call": _always,
        "moderation": _always,
    }
)

# OpenAI tool_choice string -> Anthropic tool_choice.type
# (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#forcing-tool-use)
_TOOL_CHOICE_TYPES: Mapping[str, Literal["auto", "none", "any"]] = MappingProxyType(
    {"auto": "auto", "none": "none", "required": "any"}
)
_EMPTY_SCHEMA: Mapping[str, Any] = MappingProxyType({"type": "object", "properties": {}})


def to_anthropic_request(
    body: OpenAIRequest, ctx: CallContext, options: RequestOptions | None = None
) -> AnthropicRequest:
    """The Messages request for a validated Chat Completions body (see proxy/request.py)."""
    opts = options or RequestOptions()
    _check_parameters(body, opts)
    system, messages = translate_messages(body["messages"], opts)
    max_tokens, thinking_budget = _token_limits(body, opts)
    out: AnthropicRequest = {
        "model": ctx.upstream_model,
        "max_tokens": max_tokens,
        "messages": messages,
    }
    if system:
        out["system"] = system
    if thinking_budget is not None:
        out["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget}
    _sampling(body, out, opts)
    _tooling(body, out, opts, thinking=thinking_budget is not None)
    if body.get("stream") is True:
        out["stream"] = True
    return out


def _check_parameters(body: OpenAIRequest, opts: RequestOptions) -> None:
    if opts.drop_unsupported:
        return
    for name, value in body.items():
        if value is None or name in _TRANSLATED or name in _IGNORED:
            continue  # OpenAI treats an explicit null as "not given"
        is_unsupported = _UNSUPPORTED.get(name, _always)  # unknown names too, as OpenAI does
        if is_unsupported(value):
            raise unsupported_parameter(name, opts.provider)


# --- limits and sampling -------------------------------------------------------------------


def _token_limits(body: OpenAIRequest, opts: RequestOptions) -> tuple[int, int | None]:
    param = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    limit: int | None = body.get(param)
    effort = body.get("reasoning_effort")
    if effort is None or effort == "none":
        return (opts.default_max_tokens if limit is None else limit), None
    budget = EFFORT_BUDGETS.get(effort)
    if budget is None:
        raise invalid_request(
            f"Invalid value for 'reasoning_effort': expected one of none, "
            f"{', '.join(EFFORT_BUDGETS)}; got {effort!r}.",
            "reasoning_effort",
            "invalid_value",
        )
    if limit is None:
        # No client limit: room for the default answer on top of the thinking budget.
        return opts.default_max_tokens + budget, budget
    if limit <= MIN_THINKING_BUDGET:
        raise invalid_request(
            f"'{param}' is {limit}, but reasoning_effort '{effort}' on provider '{opts.provider}' "
            f"needs more than {MIN_THINKING_BUDGET} tokens: the reasoning budget (at least "
            f"{MIN_THINKING_BUDGET}) counts toward '{param}'. Raise '{param}' or drop "
            "'reasoning_effort'.",
            param,
            "value_below_minimum",
        )
    return limit, min(budget, limit - 1)


def _sampling(body: OpenAIRequest, out: AnthropicRequest, opts: RequestOptions) -> None:
    temperature = body.get("temperature")
    if temperature is not None:
        if temperature > 1:
            # OpenAI allows 0-2, Anthropic 0-1; rescaling would silently change the client's value.
            raise invalid_request(
                f"Invalid 'temperature': provider '{opts.provider}' accepts 0 to 1, "
                f"got {temperature}.",
                "temperature",
                "value_above_maximum",
            )
        out["temperature"] = temperature
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    user = body.get("safety_identifier") or body.get("user")
    if user:
        out["metadata"] = {"user_id": user}


# --- tools and structured output -----------------------------------------------------------


def _tooling(
    body: OpenAIRequest, out: AnthropicRequest, opts: RequestOptions, thinking: bool
) -> None:
    tools = _tools(body.get("tools") or [], opts)
    json_tool = _json_tool(body.get("response_format"), opts, thinking)
    requested = body.get("tool_choice")
    choice: ToolChoice
    if json_tool is not None:
        choice = _json_mode_choice(requested, bool(tools), opts)
        tools.append(json_tool)
    elif not tools:
        return  # OpenAI ignores tool_choice and parallel_tool_calls without tools
    else:
        choice = _tool_choice(requested, opts)
    if body.get("parallel_tool_calls") is False and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True
    out["tools"] = tools
    if choice != {"type": "auto"}:
        out["tool_choice"] = choice


def _tools(tools: list[dict[str, Any]], opts: RequestOptions) -> list[ToolParam]:
    out: list[ToolParam] = []
    for j, tool in enumerate(tools):
        if tool.get("type", "function") != "function":
            if opts.drop_unsupported:
                continue
            raise unsupported_parameter(f"tools[{j}].type", opts.provider)
        function = tool["function"]
        if function["name"] == JSON_TOOL_NAME:
            raise invalid_request(
                f"Invalid 'tools[{j}].function.name': {JSON_TOOL_NAME!r} is reserved by the proxy.",
                f"tools[{j}].function.name",
                "invalid_value",
            )
        # `strict` is dropped: Claude follows the schema without it, on every model.
        entry: ToolParam = {
            "name": function["name"],
            "input_schema": function.get("parameters") or dict(_EMPTY_SCHEMA),
        }
        if function.get("description"):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def _tool_choice(choice: Any, opts: RequestOptions) -> ToolChoice:
    if choice is None:
        return {"type": "auto"}
    if isinstance(choice, str):
        return {"type": _TOOL_CHOICE_TYPES[choice]}
    function = choice.get("function")
    if choice.get("type") == "function" and isinstance(function, dict):
        name = function.get("name")
        if isinstance(name, str):
            return {"type": "tool", "name": name}
    if choice.get("type") in ("allowed_tools", "custom"):
        raise unsupported_parameter("tool_choice", opts.provider)
    raise invalid_request(
        "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or "
        "{'type': 'function', 'function': {'name': ...}}.",
        "tool_choice",
        "invalid_value",
    )


def _json_mode_choice(choice: Any, has_tools: bool, opts: RequestOptions) -> ToolChoice:
    """With response_format the answer must come through the json tool: force it, or, when the
    client's tools may be called too, force "some tool" so plain text cannot be the answer.
    A client's named choice still wins (OpenAI, too, then answers with that tool call)."""
    if isinstance(choice, dict):
        return _tool_choice(choice, opts)
    if has_tools and choice != "none":
        return {"type": "any"}
    return {"type": "tool", "name": JSON_TOOL_NAME}


def _json_tool(response_format: Any, opts: RequestOptions, thinking: bool) -> ToolParam | None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in ("json_schema", "json_object"):
        return None
    if thinking:
        # Anthropic rejects forced tool use while thinking is enabled.
        raise invalid_request(
            f"'response_format' {kind} cannot be combined with 'reasoning_effort' on provider "
            f"'{opts.provider}'. Drop one of them.",
            "response_format",
            "unsupported_combination",
        )
    if kind == "json_object":
        schema: dict[str, Any] = {"type": "object", "additionalProperties": True}
        about = "Reply with your answer as a JSON object: this tool's input is the answer."
    else:
        spec = response_format["json_schema"]
        schema = spec.get("schema") or {"type": "object", "additionalProperties": True}
        about = (
            f"Reply with your answer as a JSON object matching the {spec.get('name', 'answer')!r} "
            "schema: this tool's input is the answer."
        )
        if spec.get("description"):
            about += f" {spec['description']}"
    return {"name": JSON_TOOL_NAME, "description": about, "input_schema": schema}
