"""proxy/surfaces/responses/stream.py: chat chunks -> the Responses event stream.

The events are checked against the openai SDK's own event models, accumulated by the SDK's
stream helper (what `client.responses.stream(...)` runs), and compared with the non-stream
translation of the same answer (parity).
"""

from __future__ import annotations

from typing import Any

import pytest
from openai._streaming import SSEDecoder
from openai._types import omit
from openai.lib._parsing._responses import parse_response
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ParsedResponse
from pydantic import BaseModel

from proxy.errors import ProxyError, UpstreamError, upstream_transport_error
from proxy.sse import encode_named_events
from proxy.surfaces.responses.request import responses_to_chat
from proxy.surfaces.responses.response import chat_to_response
from proxy.surfaces.responses.stream import ResponsesStreamTranslator
from tests.surfaces.responses.golden import CASES, context, load, sdk_event, sdk_response


class Weather(BaseModel):
    city: str
    celsius: float


def events_for(case: str) -> list[dict[str, Any]]:
    translator = ResponsesStreamTranslator(context(case))
    events = [event for chunk in load(case, "chat_chunks.json") for event in translator.feed(chunk)]
    return events + translator.finish()


def accumulate(events: list[dict[str, Any]], text_format: Any = None) -> ParsedResponse[Any]:
    state: ResponseStreamState[Any] = ResponseStreamState(
        input_tools=[], text_format=text_format if text_format is not None else _omit()
    )
    for event in events:
        state.handle_event(sdk_event(event))
    assert state._completed_response is not None, "no response.completed"
    return state._completed_response


def _omit() -> Any:
    return omit


@pytest.mark.parametrize("case", CASES)
def test_golden_events(case: str) -> None:
    events = events_for(case)
    assert events == load(case, "events.json")
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created"
    assert events[1]["type"] == "response.in_progress"
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    for event in events:
        sdk_event(event)  # each one is a valid member of the SDK's ResponseStreamEvent union


@pytest.mark.parametrize("case", CASES)
def test_stream_accumulates_to_the_non_stream_answer(case: str) -> None:
    events = events_for(case)
    expected = sdk_response(chat_to_response(load(case, "chat_response.json"), context(case)))
    # The terminal event carries the whole Response, equal to the non-stream answer.
    assert sdk_response(events[-1]["response"]).model_dump() == expected.model_dump()
    if events[-1]["type"] == "response.incomplete":
        return  # the SDK helper finalizes only on response.completed
    # What `client.responses.stream(...).get_final_response()` returns from these events.
    final = accumulate(events)
    assert (
        final.model_dump()
        == parse_response(text_format=_omit(), input_tools=[], response=expected).model_dump()
    )


def test_responses_stream_helper_parses_a_pydantic_model() -> None:
    final = accumulate(events_for("json_schema_parse"), text_format=Weather)
    assert final.output_parsed == Weather(city="Paris", celsius=21.5)


def test_function_tool_round_trip_keeps_signature_and_names() -> None:
    """A streamed tool call, sent back as Codex does, is the same assistant turn for Claude."""
    first = accumulate(events_for("codex_tool_loop"))
    request = load("codex_tool_loop", "request.json")
    items = [
        item.model_dump(exclude_none=True, exclude={"parsed_arguments"}) for item in first.output
    ]
    for item in items:
        for part in item.get("content", []):
            part.pop("parsed", None)
    output = {"type": "function_call_output", "call_id": "toolu_01B", "output": "layout.md"}
    request["input"] = [*request["input"], *items, output]
    messages = responses_to_chat(request, "resp_2", 2).chat["messages"]
    assistant, tool = messages[-2], messages[-1]
    reply = load("codex_tool_loop", "chat_response.json")["choices"][0]["message"]
    assert assistant["thinking_blocks"] == reply["thinking_blocks"]  # signature byte-exact
    assert assistant["content"] == reply["content"]
    assert assistant["tool_calls"] == reply["tool_calls"]  # flattened name restored
    assert tool == {"role": "tool", "tool_call_id": "toolu_01B", "content": "layout.md"}


def test_failure_after_commit_is_response_failed() -> None:
    ctx = context("text_basic")
    translator = ResponsesStreamTranslator(ctx)
    chunks = load("text_basic", "chat_chunks.json")
    events = translator.feed(chunks[0])
    error = upstream_transport_error("gemini", "upstream_truncated", "the stream ended early")
    assert isinstance(error, ProxyError)
    events += translator.fail(error)
    failed = events[-1]
    assert failed["type"] == "response.failed"
    assert failed["sequence_number"] == len(events) - 1
    response = sdk_response(failed["response"])
    assert response.status == "failed"
    assert response.error is not None and response.error.code == "server_error"
    assert response.error.message == error.message
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=[], text_format=_omit())
    fired = [e for event in events for e in state.handle_event(sdk_event(event))]
    assert fired[-1].type == "response.failed"


def test_a_stream_with_no_chunks_still_opens_and_completes() -> None:
    translator = ResponsesStreamTranslator(context("text_basic"))
    events = translator.finish()
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert accumulate(events).output == []


def test_sse_framing_names_each_event_and_the_sdk_decodes_it() -> None:
    events = events_for("codex_tool_loop")
    wire = encode_named_events(events)
    decoded = list(SSEDecoder().iter_bytes(iter([wire])))
    assert [sse.event for sse in decoded] == [event["type"] for event in events]
    assert [sse.json() for sse in decoded] == events
    assert b"[DONE]" not in wire  # Responses streams end at their terminal event


MALFORMED_CHUNKS: list[Any] = [
    {"choices": ["x"]},
    {"choices": [{"delta": {"tool_calls": ["x"]}}]},
    {"choices": [{"delta": {"thinking_blocks": [{"index": "0", "thinking": 1}]}}]},
    {"choices": [{"delta": "text"}]},
]


@pytest.mark.parametrize("chunk", MALFORMED_CHUNKS)
def test_malformed_chunk_is_a_stream_error(chunk: Any) -> None:
    translator = ResponsesStreamTranslator(context("text_basic"), "compat")
    with pytest.raises(UpstreamError) as caught:
        translator.feed(chunk)
    assert (caught.value.outcome, caught.value.provider) == ("stream_error", "compat")


def test_interleaved_tool_arguments_are_a_stream_error_not_a_corrupt_item() -> None:
    translator = ResponsesStreamTranslator(context("text_basic"), "compat")
    opening = [
        {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": ""}},
    ]
    translator.feed({"choices": [{"index": 0, "delta": {"tool_calls": opening}}]})
    late = [{"index": 0, "function": {"arguments": "{}"}}]
    with pytest.raises(UpstreamError) as caught:
        translator.feed({"choices": [{"index": 0, "delta": {"tool_calls": late}}]})
    assert caught.value.outcome == "stream_error"
