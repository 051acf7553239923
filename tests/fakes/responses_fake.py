"""The fake OpenAI upstream's `POST /v1/responses` (tests/fakes/openai.py), in the Responses
wire format (openai.types.responses.Response and ResponseStreamEvent; checked with the
`openai` SDK in tests/e2e/test_responses_fake_sdk.py).

What it answers, first match wins:
- the last input item is a `function_call_output`: a text quoting it, `results: <output>`;
- `[scenario:tools]` in the last user text and a function tool declared: one function_call
  to the first function tool, arguments `{"city": "Paris"}` (`{"cmd": "echo fake-tool-ok"}`
  for a tool taking `cmd`, as Codex's exec_command does);
- `text.format` json_schema: the CalendarEvent JSON (the same answer as the other fakes);
- else the fake's `content`.
With `include: ["reasoning.encrypted_content"]` a reasoning item with encrypted content
comes first. A stream sends the text in words; the fake's `mode` makes it odd:
`first_event_error` (an `error` event at once), `stream_error` (a few events, then an
`error` event), `truncate` (no terminal event).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response, StreamingResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.fakes.openai import FakeOpenAI

CALENDAR = {"name": "Science fair", "date": "Friday", "participants": ["Alice", "Bob"]}
ENCRYPTED = "gAAAAfake-encrypted-reasoning=="
RESPONSE_ID = "resp_fake0001"


def respond(fake: FakeOpenAI, body: dict[str, Any]) -> Response:
    output = _output(fake, body)
    if body.get("stream"):
        return StreamingResponse(_stream(fake, body, output), media_type="text/event-stream")
    return Response(
        orjson.dumps(_response(body, output, "completed")), media_type="application/json"
    )


def _output(fake: FakeOpenAI, body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("input")
    items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
    out: list[dict[str, Any]] = []
    if "reasoning.encrypted_content" in (body.get("include") or []):
        out.append(
            {"id": "rs_fake", "type": "reasoning", "summary": [], "encrypted_content": ENCRYPTED}
        )
    last = items[-1] if items else {}
    functions = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    form = ((body.get("text") or {}).get("format") or {}).get("type")
    if last.get("type") == "function_call_output":
        text = f"results: {last.get('output')}"
    elif functions and "[scenario:tools]" in _text_of(last):
        call = {
            "id": "fc_fake",
            "type": "function_call",
            "call_id": "call_fake1",
            "name": functions[0]["name"],
            "arguments": _arguments(functions[0]),
            "status": "completed",
        }
        return [*out, call]
    elif form == "json_schema":
        text = orjson.dumps(CALENDAR).decode()
    else:
        text = fake.content
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [part],
    }
    return [*out, message]


def _arguments(tool: dict[str, Any]) -> str:
    """`{"city": "Paris"}`, or for Codex's exec_command (a `cmd` string) a harmless command."""
    if "cmd" in ((tool.get("parameters") or {}).get("properties") or {}):
        return '{"cmd": "echo fake-tool-ok"}'
    return '{"city": "Paris"}'


def _text_of(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return " ".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))


def _response(body: dict[str, Any], output: list[dict[str, Any]], status: str) -> dict[str, Any]:
    done = status == "completed"
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model"),
        "output": output if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": 1.0,
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": _USAGE if done else None,
        "metadata": body.get("metadata") or {},
    }


_USAGE = {
    "input_tokens": 11,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 18,
}


async def _stream(
    fake: FakeOpenAI, body: dict[str, Any], output: list[dict[str, Any]]
) -> AsyncIterator[bytes]:
    events = _events(body, output)
    if fake.mode == "first_event_error":
        events = [{"type": "error", "code": "server_error", "message": "overloaded", "param": None}]
    elif fake.mode == "stream_error":
        events = [*events[:4], {"type": "error", "code": "server_error", "message": "boom"}]
    elif fake.mode == "truncate":
        events = events[:-1]
    for number, event in enumerate(events):
        if fake.mode == "stream_error" and event["type"] == "error":
            # The pause lets the first events reach the proxy, and it commit the stream,
            # before the error does: sent at once, they could arrive in one read and
            # the error come before the commit (a 502 instead of response.failed).
            await asyncio.sleep(0.3)  # not sync
        yield (
            b"event: "
            + event["type"].encode()
            + b"\ndata: "
            + orjson.dumps({**event, "sequence_number": number})
            + b"\n\n"
        )


def _events(body: dict[str, Any], output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = _response(body, output, "in_progress")
    events = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    for index, item in enumerate(output):
        events += _item_events(index, item)
    events.append({"type": "response.completed", "response": _response(body, output, "completed")})
    return events


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    at = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        empty = {**item, "status": "in_progress", "content": []}
        events = [{"type": "response.output_item.added", "output_index": index, "item": empty}]
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        events.append(
            {"type": "response.content_part.added", **at, "content_index": 0, "part": part}
        )
        for word in _words(text):
            events.append(
                {
                    "type": "response.output_text.delta",
                    **at,
                    "content_index": 0,
                    "delta": word,
                    "logprobs": [],
                }
            )
        events.append(
            {
                "type": "response.output_text.done",
                **at,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            }
        )
        events.append(
            {
                "type": "response.content_part.done",
                **at,
                "content_index": 0,
                "part": item["content"][0],
            }
        )
    elif item["type"] == "function_call":
        empty = {**item, "status": "in_progress", "arguments": ""}
        events = [{"type": "response.output_item.added", "output_index": index, "item": empty}]
        events.append(
            {"type": "response.function_call_arguments.delta", **at, "delta": item["arguments"]}
        )
        events.append(
            {"type": "response.function_call_arguments.done", **at, "arguments": item["arguments"]}
        )
    else:
        events = [{"type": "response.output_item.added", "output_index": index, "item": item}]
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]
