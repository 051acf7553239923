"""A fake Anthropic Messages API (`POST /v1/messages`) speaking the real wire format.

Answers come from the golden fixtures in tests/fixtures/anthropic/, so the adapter's unit
tests, this fake and the `anthropic` SDK check (tests/e2e/test_anthropic_fake_sdk.py) all
agree on one set of bytes: JSON for `stream: false`, SSE with `event:` lines for `stream: true`.
The response's `model` is the requested one, as Anthropic does.

Scenario, chosen per request (first match wins):

1. the header `x-fake-scenario: <name>`;
2. a marker `[scenario:<name>]` in a text block of the last user turn;
3. `tool_results` when the last user turn carries tool_result blocks, else `text`.

Scenarios:

- every success fixture folder: `text`, `system`, `tools`, `parallel_tools`, `json_schema`,
  `thinking`, `max_tokens`, `stop_sequence`, `refusal`, `usage_cache`, ...; `thinking_tools`
  answers with a signed thinking block, a redacted_thinking block, text and a tool call;
- `tool_results`: a text answer quoting each tool result it received, as `<id>=<content>`;
- every error fixture folder: `error_400`, `error_401`, `error_403`, `error_404`, `error_413`,
  `error_429`, `error_429_spend_limit`, `error_500`, `error_529`: that status, headers and
  Anthropic error body (streamed requests get it too, before any event, as the API does);
- `stream_error`: a stream that starts, says a few words, then (after 0.3 s) sends an `error`
  event (overloaded_error), as Anthropic does when it is overloaded mid-stream;
- `truncated`: the `text` stream cut before `message_delta` and `message_stop`.

Like the real API it checks the request first: `x-api-key` or `authorization: Bearer` (the
current SDK sends the latter; equal to `api_key` when set) else 401; `anthropic-version` else 400; the body's shape against the `anthropic` SDK's
parameter types (unknown fields, roles, content blocks, tools, tool_choice, thinking budget,
empty text blocks, tool ids outside `^[a-zA-Z0-9_-]+$`, tool_result ids) else 400
invalid_request_error. Thinking is checked as Anthropic does: a thinking or redacted_thinking
block sent back must be one this fake issued (in a fixture), byte for byte, signature
included; and with thinking enabled, the assistant turn answered by the final tool results
must start with its thinking block.

Every request is recorded in `requests` (headers and parsed body) before it is judged.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"
FIXTURE_MODEL = "claude-sonnet-4-5-20250929"
COUNTED_TOKENS = 321  # what count_tokens answers
_MARKER = re.compile(r"\[scenario:([a-z0-9_]+)\]")
_TOOL_ID = re.compile(r"[a-zA-Z0-9_-]+")
_ID_FIELDS = {"tool_use": "id", "tool_result": "tool_use_id"}


@dataclass
class Received:
    headers: dict[str, str]
    body: Any


@dataclass
class FakeAnthropic:
    api_key: str | None = None
    requests: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
            ]
        )

    async def _count_tokens(self, request: Request) -> Response:
        """`POST /v1/messages/count_tokens`: a fixed COUNTED_TOKENS, after the key check."""
        body = orjson.loads(await request.body())
        self.requests.append(Received(dict(request.headers), body))
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        key = request.headers.get("x-api-key") or bearer
        if not key or (self.api_key is not None and key != self.api_key):
            return error_response(401, "authentication_error", "invalid x-api-key")
        return json_response({"input_tokens": COUNTED_TOKENS})

    async def _messages(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.requests.append(Received(dict(request.headers), body))
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        key = request.headers.get("x-api-key") or bearer
        if not key or (self.api_key is not None and key != self.api_key):
            return error_response(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return error_response(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        if not isinstance(body, dict):
            return error_response(
                400, "invalid_request_error", "The request body is not valid JSON."
            )
        problem = request_problem(body)
        if problem is not None:
            return error_response(400, "invalid_request_error", problem)
        return answer(scenario_of(request, body), body)


# --- scenarios -------------------------------------------------------------------------------


def scenario_of(request: Request, body: dict[str, Any]) -> str:
    named = request.headers.get("x-fake-scenario")
    if named:
        return named
    last = body["messages"][-1]
    blocks = last["content"] if isinstance(last["content"], list) else [last["content"]]
    if last["role"] == "user":
        for block in reversed(blocks):
            text = block if isinstance(block, str) else block.get("text", "")
            found = _MARKER.findall(text)
            if found:
                return str(found[-1])
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
            return "tool_results"
    return "text"


def answer(scenario: str, body: dict[str, Any]) -> Response:
    stream = body.get("stream") is True
    model = str(body["model"])
    if scenario.startswith("error_"):
        return fixture_error(scenario)
    if scenario == "tool_results":
        return text_answer(tool_results_text(body), model, stream)
    if scenario == "stream_error":
        if not stream:
            return fixture_error("error_529")
        # The pause lets the first events reach the client before the error does.
        return sse_response(overloaded_midway(model), pause_before_last=0.3)
    if scenario == "truncated":
        events = fixture_sse("text", model).split(b"\n\n")
        return sse_response(
            b"\n\n".join(
                e for e in events if b"message_delta" not in e and b"message_stop" not in e
            )
        )
    if not (FIXTURES / scenario / "anthropic_response.json").exists():
        return error_response(400, "invalid_request_error", f"fake: unknown scenario {scenario!r}")
    if stream:
        return sse_response(fixture_sse(scenario, model))
    message = json.loads((FIXTURES / scenario / "anthropic_response.json").read_text())
    return json_response({**message, "model": model})


def fixture_sse(case: str, model: str) -> bytes:
    data = (FIXTURES / case / "anthropic_response.sse").read_bytes()
    return data.replace(
        f'"model":"{FIXTURE_MODEL}"'.encode(), f'"model":{json.dumps(model)}'.encode()
    )


def fixture_error(case: str) -> Response:
    spec = json.loads((FIXTURES / case / "anthropic_error.json").read_text())
    return Response(
        orjson.dumps(spec["body"]),
        status_code=spec["status"],
        headers=spec["headers"],
        media_type="application/json",
    )


def tool_results_text(body: dict[str, Any]) -> str:
    results = []
    for block in body["messages"][-1]["content"]:
        if block.get("type") == "tool_result":
            content = block.get("content", "")
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content)
            results.append(f"{block['tool_use_id']}={content}")
    return "Tool results: " + "; ".join(results)


def text_answer(text: str, model: str, stream: bool) -> Response:
    usage = {"input_tokens": 50, "output_tokens": 12}
    message = {
        "id": "msg_fake_text",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    if not stream:
        return json_response(message)
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text[i : i + 10]},
            }
            for i in range(0, len(text), 10)
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 12},
        },
        {"type": "message_stop"},
    ]
    return sse_response(b"".join(sse_event(e) for e in events))


def overloaded_midway(model: str) -> bytes:
    events = fixture_sse("text", model).split(b"\n\n")
    head = [e for e in events if b"message_start" in e or b"content_block_start" in e]
    head += [e for e in events if b"text_delta" in e][:1]
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return b"\n\n".join(head) + b"\n\n" + sse_event(error)


def sse_event(data: dict[str, Any]) -> bytes:
    return b"event: " + data["type"].encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def sse_response(data: bytes, pause_before_last: float = 0.0) -> StreamingResponse:
    async def events() -> Any:
        parts = [e + b"\n\n" for e in data.split(b"\n\n") if e.strip()]
        for i, event in enumerate(parts):
            if pause_before_last and i == len(parts) - 1:
                await asyncio.sleep(pause_before_last)
            yield event

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"request-id": "req_fake_stream"}
    )


def json_response(message: dict[str, Any]) -> Response:
    return Response(
        orjson.dumps(message), media_type="application/json", headers={"request-id": "req_fake"}
    )


def error_response(status: int, kind: str, message: str) -> Response:
    body = {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_fake_error",
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


# --- request checks --------------------------------------------------------------------------


@cache
def _adapters() -> dict[str, Any]:
    from anthropic.types import (
        ContentBlockParam,
        MetadataParam,
        TextBlockParam,
        ThinkingConfigParam,
        ToolChoiceParam,
        ToolParam,
    )
    from anthropic.types.message_create_params import MessageCreateParamsBase

    return {
        # The current SDK no longer lists the sampling parameters (the newest models reject
        # them), but the API still accepts them for the models that do.
        "fields": set(MessageCreateParamsBase.__annotations__)
        | {"stream", "temperature", "top_p", "top_k"},
        "block": TypeAdapter(ContentBlockParam),
        "system": TypeAdapter(TextBlockParam),
        "tool": TypeAdapter(ToolParam),
        "tool_choice": TypeAdapter(ToolChoiceParam),
        "thinking": TypeAdapter(ThinkingConfigParam),
        "metadata": TypeAdapter(MetadataParam),
    }


def request_problem(body: dict[str, Any]) -> str | None:
    """What the real API would reject in this body (a subset of its checks), or None."""
    types = _adapters()
    for name in body:
        if name not in types["fields"]:
            return f"{name}: Extra inputs are not permitted"
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: Input should be a positive integer"
    try:
        for name in ("tool_choice", "thinking", "metadata"):
            if name in body:
                types[name].validate_python(body[name], strict=True)
        for tool in body.get("tools", []):
            types["tool"].validate_python(tool)
        system = body.get("system", [])
        for block in [system] if isinstance(system, str) else system:
            if not isinstance(block, str):
                types["system"].validate_python(block)
    except ValidationError as exc:
        return str(exc).splitlines()[0]
    return (
        _thinking_problem(body)
        or _ids_problem(body["messages"])
        or _messages_problem(body["messages"], types["block"])
        or _replay_problem(body)
    )


def _thinking_problem(body: dict[str, Any]) -> str | None:
    thinking = body.get("thinking")
    if not thinking or thinking.get("type") != "enabled":
        return None
    budget = thinking["budget_tokens"]
    if budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if budget >= body["max_tokens"]:
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    if body.get("tool_choice", {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _messages_problem(messages: Any, block_type: TypeAdapter[Any]) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    previous_tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{i}: all messages must have non-empty content"
        for j, block in enumerate(blocks):
            try:
                block_type.validate_python(block)
            except ValidationError:
                return f"messages.{i}.content.{j}: invalid content block"
            if block["type"] == "text" and not block["text"]:
                return f"messages.{i}.content.{j}.text: text content blocks must be non-empty"
            if block["type"] == "tool_result" and block["tool_use_id"] not in previous_tool_ids:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    "blocks. Each `tool_result` block must have a corresponding `tool_use` block "
                    "in the previous message."
                )
        previous_tool_ids = {b["id"] for b in blocks if b["type"] == "tool_use"}
    return None


def _ids_problem(messages: Any) -> str | None:
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            kind = block.get("type") if isinstance(block, dict) else None
            key = _ID_FIELDS.get(kind) if isinstance(kind, str) else None
            value = block.get(key) if key else None
            if key and not (isinstance(value, str) and _TOOL_ID.fullmatch(value)):
                return (
                    f"messages.{i}.content.{j}.{kind}.{key}: String should match pattern "
                    "'^[a-zA-Z0-9_-]+$'"
                )
    return None


@cache
def _issued() -> frozenset[tuple[str, ...]]:
    """Every reasoning block the fixtures hand out, as Anthropic would verify them."""
    issued: set[tuple[str, ...]] = set()
    for path in FIXTURES.glob("*/anthropic_response.json"):
        for block in json.loads(path.read_text()).get("content", []):
            if block["type"] == "thinking":
                issued.add(("thinking", block["thinking"], block["signature"]))
            elif block["type"] == "redacted_thinking":
                issued.add(("redacted_thinking", block["data"]))
    return frozenset(issued)


def _replay_problem(body: dict[str, Any]) -> str | None:
    messages = body["messages"]
    for i, message in enumerate(messages):
        for j, block in enumerate(_blocks(message)):
            if block["type"] == "thinking":
                key: tuple[str, ...] = ("thinking", block["thinking"], block["signature"])
            elif block["type"] == "redacted_thinking":
                key = ("redacted_thinking", block["data"])
            else:
                continue
            if key not in _issued():
                return f"messages.{i}.content.{j}: Invalid `signature` in `{block['type']}` block"
    if body.get("thinking", {}).get("type") != "enabled" or len(messages) < 2:
        return None
    last, turn = messages[-1], messages[-2]
    if last["role"] != "user" or not any(b["type"] == "tool_result" for b in _blocks(last)):
        return None
    first = _blocks(turn)[0]["type"]
    if first in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
        f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final "
        "`assistant` message must start with a thinking block (preceeding the lastmost set of "
        "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
        "previous turns. To avoid this requirement, disable `thinking`. Please consult our "
        "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    )


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
