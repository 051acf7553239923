"""The Responses translation against what the translated providers really produce and take.

Both provider fixture sets (tests/fixtures/anthropic, tests/fixtures/gemini) hold the chat
answers their adapters produce (openai_response.json) and the chunks of the same answer
streamed (openai_chunks.json, with include_usage). Each pair, translated to Responses, must
give one answer: the stream accumulated by the openai SDK's helper equals the non-stream
translation. And the chat requests this surface builds must pass the outbound adapters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai._types import omit
from openai.lib._parsing._responses import parse_response
from openai.lib.streaming.responses._responses import ResponseStreamState

from proxy.errors import ProxyError
from proxy.providers.anthropic.request import RequestOptions as AnthropicOptions
from proxy.providers.anthropic.request import to_anthropic_request
from proxy.providers.base import CallContext
from proxy.providers.gemini.request import RequestOptions as GeminiOptions
from proxy.providers.gemini.request import to_gemini_request
from proxy.surfaces.responses.request import responses_to_chat
from proxy.surfaces.responses.response import chat_to_response
from proxy.surfaces.responses.stream import ResponsesStreamTranslator
from tests.surfaces.responses.golden import CASES, load, sdk_event, sdk_response

PROVIDER_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PAIRS = sorted(
    f"{provider}/{case.name}"
    for provider in ("anthropic", "gemini")
    for case in (PROVIDER_FIXTURES / provider).iterdir()
    if (case / "openai_chunks.json").exists() and (case / "openai_response.json").exists()
)
REQUEST = {"model": "m", "input": "x", "reasoning": {"summary": "auto"},
           "include": ["reasoning.encrypted_content"]}  # fmt: skip


def read(pair: str, name: str) -> Any:
    return json.loads((PROVIDER_FIXTURES / pair / name).read_text())


@pytest.mark.parametrize("pair", PAIRS)
def test_provider_stream_and_answer_translate_to_one_response(pair: str) -> None:
    ctx = responses_to_chat(REQUEST, "resp_p", 1).context
    translator = ResponsesStreamTranslator(ctx)
    events = [e for chunk in read(pair, "openai_chunks.json") for e in translator.feed(chunk)]
    events += translator.finish()
    expected = sdk_response(chat_to_response(read(pair, "openai_response.json"), ctx))
    final = sdk_response(events[-1]["response"])
    assert same_json(final.model_dump()) == same_json(expected.model_dump())
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=[], text_format=omit)
    for event in events:
        state.handle_event(sdk_event(event))
    if events[-1]["type"] == "response.completed":
        assert state._completed_response is not None
        accumulated = state._completed_response.model_dump()
        parsed = parse_response(text_format=omit, input_tools=[], response=expected)
        assert same_json(accumulated) == same_json(parsed.model_dump())


def same_json(response: dict[str, Any]) -> dict[str, Any]:
    """Arguments and JSON answers as parsed JSON: Claude streams `{"a": 1}` where its
    non-stream answer, re-serialized by the adapter, reads `{"a":1}`."""
    for item in response["output"]:
        if item["type"] == "function_call":
            item["arguments"] = json.loads(item["arguments"])
        for part in item.get("content") or []:
            if part.get("type") == "output_text" and part["text"].startswith("{"):
                part["text"] = json.loads(part["text"])
    return response


ANTHROPIC_CTX = CallContext("smart", "claude-sonnet-4-5", "chatcmpl-x", 1, True)

# Our chat requests through the outbound translators: (case, provider) -> the param of the
# 400 the provider answers by default (None: accepted). Gemini cannot honour
# parallel_tool_calls=false (Codex sends it) nor verbosity: `drop_unsupported: true` on the
# provider drops them (checked below).
EXPECTED_400: dict[tuple[str, str], str] = {
    ("codex_tool_loop", "gemini"): "parallel_tool_calls",
    ("parallel_tools_thoughts", "gemini"): "verbosity",
}


def outbound(provider: str, chat: dict[str, Any], drop: bool = False) -> dict[str, Any]:
    if provider == "anthropic":
        options = AnthropicOptions(drop_unsupported=drop)
        return dict(to_anthropic_request(chat, ANTHROPIC_CTX, options))
    return dict(to_gemini_request(chat, GeminiOptions(drop_unsupported=drop)))


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
@pytest.mark.parametrize("case", CASES)
def test_chat_requests_pass_the_outbound_adapters(case: str, provider: str) -> None:
    chat = load(case, "chat_request.json")
    param = EXPECTED_400.get((case, provider))
    if param is None:
        outbound(provider, chat)
        return
    with pytest.raises(ProxyError) as caught:
        outbound(provider, chat)
    assert caught.value.param == param
    outbound(provider, chat, drop=True)


def test_codex_turn_reaches_claude_with_its_thinking_block_first() -> None:
    body = outbound("anthropic", load("codex_tool_loop", "chat_request.json"))
    assistant = next(m for m in body["messages"] if m["role"] == "assistant")
    kinds = [block["type"] for block in assistant["content"]]
    assert kinds == ["thinking", "tool_use"]
    reasoning = load("codex_tool_loop", "request.json")["input"][4]
    assert assistant["content"][0]["signature"].startswith("EqQB")
    assert reasoning["summary"][0]["text"] == assistant["content"][0]["thinking"]
    assert [t["name"] for t in body["tools"]] == [
        "shell",
        "mcp__docs__search",
        "mcp__docs__list_pages",
    ]
