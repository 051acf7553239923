"""OpenAI Chat Completions request body -> Gemini GenerateContentRequest (a pure function).

Parameter mapping (https://ai.google.dev/api/generate-content#generationconfig):

| OpenAI                                  | Gemini                                              |
|-----------------------------------------|-----------------------------------------------------|
| temperature, top_p                      | generationConfig.temperature, topP                  |
| max_completion_tokens (wins), max_tokens| generationConfig.maxOutputTokens                    |
| stop (string or list)                   | generationConfig.stopSequences                      |
| n                                       | generationConfig.candidateCount                     |
| seed, presence_penalty, frequency_penalty | seed, presencePenalty, frequencyPenalty           |
| logprobs, top_logprobs                  | responseLogprobs, logprobs                          |
| response_format json_object             | responseMimeType application/json                   |
| response_format json_schema             | + responseJsonSchema (schema.py)                    |
| tools (function)                        | tools[0].functionDeclarations (parametersJsonSchema)|
| tool_choice auto/none/required/named    | toolConfig.functionCallingConfig AUTO/NONE/ANY/ANY+allowedFunctionNames |
| reasoning_effort                        | generationConfig.thinkingConfig (below)             |

reasoning_effort: Gemini 2.5 takes a token budget, Gemini 3 a level
(https://ai.google.dev/gemini-api/docs/thinking). The budgets are those of Google's own
OpenAI-compatibility layer (https://ai.google.dev/gemini-api/docs/openai#thinking): none 0,
minimal and low 1024, medium 8192, high 24576. Levels: minimal/low/medium/high/xhigh map to
the same-named thinkingLevel; none maps to MINIMAL because Gemini 3 cannot switch thinking off.
Unless the effort is none, `includeThoughts: true` asks for thought summaries, which come back
as `reasoning_content`. Which style a model gets is decided by the adapter (option `thinking`).

Not sent because Gemini has no such switch: tools[].function.strict and json_schema.strict /
name (schema-constrained decoding is what responseJsonSchema does anyway). A reasoning_effort
a model cannot honour (none on a model that always thinks) is Gemini's 400 to explain.

Not supported (400 naming the parameter and provider, or dropped with drop_unsupported):
logit_bias (no Gemini equivalent), audio and modalities other than text (audio output is
a different Gemini API), prediction, web_search_options, functions/function_call (legacy;
use tools), verbosity, moderation, parallel_tool_calls=false (Gemini cannot be told to call
one function at a time), service_tier other than auto/default, tool_choice allowed_tools,
non-function tools. Ignored as they do not change the answer: user, metadata, store,
safety_identifier, prompt_cache_key, prompt_cache_retention, prompt_cache_options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from proxy.errors import ProxyError, invalid_request, unsupported_parameter
from proxy.providers.gemini.messages import MessageConverter
from proxy.providers.gemini.schema import (
    DEFAULT_LIMITS,
    SchemaBudget,
    SchemaLimits,
    SchemaTooLarge,
    is_empty_object,
    sanitize_schema,
)
from proxy.providers.gemini.wire import (
    FunctionCallingConfig,
    FunctionDeclaration,
    GenerateContentRequest,
    GenerationConfig,
    ThinkingConfig,
    Tool,
)

ThinkingStyle = Literal["budget", "level"]

THINKING_BUDGETS: dict[str, int] = {
    "none": 0,
    "minimal": 1024,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
}
THINKING_LEVELS: dict[str, str] = {
    "none": "MINIMAL",
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "XHIGH",
}
TOOL_CHOICE_MODES: dict[str, Literal["AUTO", "NONE", "ANY"]] = {
    "auto": "AUTO",
    "none": "NONE",
    "required": "ANY",
}

# Translated below, each by its own function.
_TRANSLATED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "modalities",
        "service_tier",
    }
)
IGNORED_PARAMETERS = frozenset(
    {
        "user",
        "metadata",
        "store",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
    }
)
_PLAIN_CONFIG: dict[str, str] = {
    "temperature": "temperature",
    "top_p": "topP",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


@dataclass(frozen=True, slots=True)
class RequestOptions:
    provider: str = "gemini"
    drop_unsupported: bool = False
    thinking_style: ThinkingStyle = "budget"
    include_thoughts: bool = False  # ask for thought summaries even without reasoning_effort
    schema_limits: SchemaLimits = DEFAULT_LIMITS  # options max_schema_nodes, max_schema_depth


def to_gemini_request(
    body: dict[str, Any], options: RequestOptions = RequestOptions()
) -> GenerateContentRequest:
    """The Gemini request body for an OpenAI request body (already validated by request.py)."""
    translation = _Translation(body, options)
    return translation.build()


class _Translation:
    def __init__(self, body: dict[str, Any], options: RequestOptions) -> None:
        self._body = body
        self._options = options
        # One budget for all of this request's schemas (schema.py: inlining multiplies).
        self._schemas = SchemaBudget(options.schema_limits)

    def build(self) -> GenerateContentRequest:
        self._check_parameters()
        converter = MessageConverter(self._options.provider, self._options.drop_unsupported)
        system, contents = converter.convert(self._body["messages"])
        out: GenerateContentRequest = {"contents": contents}
        if system is not None:
            out["systemInstruction"] = system
        tools = self._tools()
        if tools:
            out["tools"] = tools
        calling = self._function_calling_config()
        if calling is not None and tools:
            out["toolConfig"] = {"functionCallingConfig": calling}
        config = self._generation_config()
        if config:
            out["generationConfig"] = config
        return out

    def _given(self, name: str) -> Any:
        """The parameter's value; OpenAI treats null (and here an empty {} or []) as absent."""
        value = self._body.get(name)
        return None if value in ({}, []) else value

    def _unsupported(self, param: str) -> None:
        """Raise, unless the provider drops unsupported parameters (then the caller skips it)."""
        if not self._options.drop_unsupported:
            raise unsupported_parameter(param, self._options.provider)

    def _check_parameters(self) -> None:
        for name in self._body:
            if name in _TRANSLATED or name in IGNORED_PARAMETERS or self._given(name) is None:
                continue
            self._unsupported(name)
        if self._given("parallel_tool_calls") is False:
            self._unsupported("parallel_tool_calls")
        modalities = self._given("modalities")
        if modalities is not None and modalities != ["text"]:
            self._unsupported("modalities")
        if self._given("service_tier") not in (None, "auto", "default"):
            self._unsupported("service_tier")

    # --- generationConfig --------------------------------------------------------------

    def _generation_config(self) -> GenerationConfig:
        config: dict[str, Any] = {}
        for openai_name, gemini_name in _PLAIN_CONFIG.items():
            value = self._given(openai_name)
            if value is not None:
                config[gemini_name] = value
        max_tokens = self._given("max_completion_tokens")
        if max_tokens is None:
            max_tokens = self._given("max_tokens")
        if max_tokens is not None:
            config["maxOutputTokens"] = max_tokens
        stop = self._given("stop")
        if stop is not None:
            config["stopSequences"] = [stop] if isinstance(stop, str) else stop
        if self._given("logprobs") is True:
            config["responseLogprobs"] = True
            top = self._given("top_logprobs")
            if top:
                config["logprobs"] = top
        config.update(self._response_format())
        thinking = self._thinking_config()
        if thinking:
            config["thinkingConfig"] = thinking
        return config  # type: ignore[return-value]

    def _response_format(self) -> dict[str, Any]:
        response_format = self._given("response_format")
        if response_format is None or response_format.get("type") == "text":
            return {}
        out: dict[str, Any] = {"responseMimeType": "application/json"}
        if response_format["type"] == "json_schema":
            schema = response_format["json_schema"].get("schema")
            if schema is not None:
                where = "response_format.json_schema.schema"
                name = response_format["json_schema"].get("name")
                what = (
                    f"response format '{name[:80]}'" if isinstance(name, str) else "response format"
                )
                out["responseJsonSchema"] = _sanitized(schema, where, what, self._schemas)
        return out

    def _thinking_config(self) -> ThinkingConfig:
        effort = self._given("reasoning_effort")
        config = self._effort(effort) if effort is not None else {}
        if self._options.include_thoughts and effort != "none":
            config["includeThoughts"] = True
        return config

    def _effort(self, effort: Any) -> ThinkingConfig:
        level = self._options.thinking_style == "level"
        table: dict[str, Any] = THINKING_LEVELS if level else THINKING_BUDGETS
        if effort not in table:
            if self._options.drop_unsupported:
                return {}
            raise _unsupported_value("reasoning_effort", effort, table, self._options.provider)
        config: ThinkingConfig = (
            {"thinkingLevel": table[effort]} if level else {"thinkingBudget": table[effort]}
        )
        if effort != "none":
            config["includeThoughts"] = True
        return config

    # --- tools -------------------------------------------------------------------------

    def _tools(self) -> list[Tool]:
        tools = self._given("tools")
        if tools is None:
            return []
        declarations: list[FunctionDeclaration] = []
        for i, tool in enumerate(tools):
            if tool.get("type", "function") != "function":
                self._unsupported(f"tools[{i}].type")
                continue
            declarations.append(
                _declaration(tool["function"], f"tools[{i}].function", self._schemas)
            )
        return [{"functionDeclarations": declarations}] if declarations else []

    def _function_calling_config(self) -> FunctionCallingConfig | None:
        choice = self._given("tool_choice")
        if choice is None:
            return None
        if isinstance(choice, str):
            return {"mode": TOOL_CHOICE_MODES[choice]}
        function = choice.get("function")
        if choice.get("type") == "function" and isinstance(function, dict):
            name = function.get("name")
            if isinstance(name, str) and name:
                return {"mode": "ANY", "allowedFunctionNames": [name]}
            raise invalid_request(
                "Missing required parameter: 'tool_choice.function.name'.",
                "tool_choice.function.name",
            )
        self._unsupported("tool_choice")
        return None


def _declaration(
    function: dict[str, Any], where: str, schemas: SchemaBudget
) -> FunctionDeclaration:
    declaration: FunctionDeclaration = {"name": function["name"]}
    description = function.get("description")
    if isinstance(description, str) and description:
        declaration["description"] = description
    parameters = function.get("parameters")
    if parameters is not None and not is_empty_object(parameters):
        if not isinstance(parameters, dict):
            raise invalid_request(
                f"Invalid type for '{where}.parameters': expected an object.", f"{where}.parameters"
            )
        declaration["parametersJsonSchema"] = _sanitized(
            parameters, f"{where}.parameters", f"tool '{function['name'][:80]}'", schemas
        )
    return declaration


def _sanitized(schema: Any, where: str, what: str, schemas: SchemaBudget) -> Any:
    try:
        return sanitize_schema(schema, schemas)
    except SchemaTooLarge as exc:
        raise invalid_request(
            f"Invalid '{where}': the schema of {what} is too large: {exc}. "
            "Simplify it (fewer, smaller or shallower $ref definitions).",
            where,
            "schema_too_large",
        ) from exc


def _unsupported_value(param: str, value: Any, table: dict[str, Any], provider: str) -> ProxyError:
    return invalid_request(
        f"Unsupported value: '{param}' {str(value)[:40]!r} is not supported by provider '{provider}' "
        f"(supported: {', '.join(table)}). Use one of those, or set drop_unsupported: true on that "
        "provider to ignore it.",
        param=param,
        code="unsupported_value",
    )
