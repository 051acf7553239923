"""Anthropic Messages API behind the OpenAI Chat Completions surface.

A client speaking Chat Completions must not be able to tell, by anything the OpenAI API
promises, that Claude answers. The package is split by direction:

- request.py   to_anthropic_request: Chat Completions body -> Messages body (pure)
- response.py  from_anthropic_response, FINISH_REASONS, usage mapping
- stream.py    AnthropicStreamTranslator: Messages SSE events -> chat.completion.chunk dicts
- errors.py    anthropic_error: Anthropic error bodies -> UpstreamError
- adapter.py   AnthropicAdapter: URL and headers at startup, bytes in and out
- wire.py      the Messages request shapes (TypedDicts)
- reasoning.py thinking blocks <-> thinking_blocks / reasoning_details (both directions)
- ids.py       tool-call ids <-> Anthropic's id alphabet (both directions)

Structured output (`response_format`): Anthropic has no response_format that every Claude
model accepts, so the answer is requested as a forced tool call. The request gains a tool
named `respond_with_json` whose `input_schema` is the client's json_schema (json_object: a
permissive `{"type": "object"}` schema) and `tool_choice` forces it (`any` when the client's
own tools may be called instead). On the way back that tool's input becomes
`message.content` as a JSON string with finish_reason "stop" and no tool_calls, in streams
too (its input_json_delta fragments become content deltas), so `client.chat.completions.parse()`
validates it like an OpenAI answer. The name is reserved: a client tool of that name is a 400.
Anthropic forbids forced tool use while thinking, so response_format with reasoning_effort is
a 400.

Provider options (`providers.<name>.options`): `default_max_tokens` (int, default 4096:
Anthropic requires max_tokens) and `anthropic_version` (default "2023-06-01").

Not supported (400 naming the parameter, or dropped with `drop_unsupported: true`): n > 1,
logprobs, top_logprobs, logit_bias, presence/frequency penalties, seed, audio output and
input_audio parts, non-text modalities, prediction, web_search_options, legacy functions,
moderation, OpenAI file ids, non-function tools.

Reasoning: thinking and redacted_thinking blocks come down as `thinking_blocks` (LiteLLM) and
`reasoning_details` (OpenRouter) beside `reasoning_content`, and go back up from either,
byte-exact, first in their assistant turn (reasoning.py). Tool-call ids outside Anthropic's
alphabet are mapped reversibly (ids.py).
"""

from proxy.providers.anthropic.adapter import AnthropicAdapter
from proxy.providers.anthropic.errors import anthropic_error
from proxy.providers.anthropic.request import to_anthropic_request
from proxy.providers.anthropic.response import FINISH_REASONS, from_anthropic_response
from proxy.providers.anthropic.stream import AnthropicStreamTranslator

__all__ = [
    "FINISH_REASONS",
    "AnthropicAdapter",
    "AnthropicStreamTranslator",
    "anthropic_error",
    "from_anthropic_response",
    "to_anthropic_request",
]
