"""The official openai client reading this surface's bytes (no server: a mock transport).

What `client.responses.create / stream / parse` make of the translated answers, the
`event:`/`data:` framing (proxy/sse.py) and the error shapes, exactly as users call them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import orjson
import pytest
from pydantic import BaseModel

from proxy.errors import invalid_request, upstream_transport_error
from proxy.sse import encode_named_events
from proxy.surfaces.responses.errors import error_body
from proxy.surfaces.responses.request import responses_to_chat
from proxy.surfaces.responses.response import chat_to_response
from proxy.surfaces.responses.stream import ResponsesStreamTranslator
from tests.surfaces.responses.golden import load


class Weather(BaseModel):
    city: str
    celsius: float


def client_for(
    case: str, answer: Callable[[str, dict[str, Any]], httpx2.Response]
) -> openai.OpenAI:
    """A client whose POST /v1/responses is answered by translating the case's chat answer."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/responses"
        return answer(case, orjson.loads(request.content))

    transport = httpx2.MockTransport(handle)
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://127.0.0.1:9/v1",
        http_client=httpx2.Client(transport=transport),
    )


def translated(case: str, body: dict[str, Any]) -> httpx2.Response:
    ctx = responses_to_chat(body, "resp_sdk", 1).context
    if body.get("stream"):
        translator = ResponsesStreamTranslator(ctx)
        events = [e for c in load(case, "chat_chunks.json") for e in translator.feed(c)]
        wire = encode_named_events(events + translator.finish())
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=wire)
    return httpx2.Response(200, json=chat_to_response(load(case, "chat_response.json"), ctx))


def test_responses_parse_non_stream() -> None:
    client = client_for("json_schema_parse", translated)
    parsed = client.responses.parse(model="smart", input="Weather in Paris", text_format=Weather)
    assert parsed.output_parsed == Weather(city="Paris", celsius=21.5)


def test_responses_stream_helper_with_a_pydantic_model() -> None:
    client = client_for("json_schema_parse", translated)
    with client.responses.stream(model="smart", input="Weather in Paris", text_format=Weather) as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == '{"city":"Paris","celsius":21.5}'
    assert final.output_parsed == Weather(city="Paris", celsius=21.5)


def test_function_tool_round_trip_with_the_sdk() -> None:
    client = client_for("codex_tool_loop", translated)
    request = load("codex_tool_loop", "request.json")
    kwargs = {k: v for k, v in request.items() if k not in ("stream", "client_metadata")}
    with client.responses.stream(**kwargs) as s:
        final = s.get_final_response()
    call = final.output[-1]
    assert call.type == "function_call"
    assert (call.name, call.namespace, call.arguments) == (
        "search",
        "mcp__docs__",
        '{"query":"layout"}',
    )
    created = client.responses.create(**kwargs)
    assert created.output_text == final.output_text == "Let me check the docs."


def test_errors_before_the_stream_are_sdk_exceptions() -> None:
    def reject(case: str, body: dict[str, Any]) -> httpx2.Response:
        error = invalid_request("Unsupported parameter: 'store'.", "store", "unsupported_parameter")
        return httpx2.Response(error.status, content=error_body(error))

    client = client_for("text_basic", reject)
    client = client.with_options(max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="smart", input="hi", store=True)
    assert caught.value.param == "store"
    assert caught.value.code == "unsupported_parameter"


def test_failure_after_commit_reaches_the_sdk_as_response_failed() -> None:
    def fail_midway(case: str, body: dict[str, Any]) -> httpx2.Response:
        translator = ResponsesStreamTranslator(responses_to_chat(body, "resp_sdk", 1).context)
        events = translator.feed(load(case, "chat_chunks.json")[0])
        events += translator.fail(upstream_transport_error("gem", "stream_error", "cut"))
        wire = encode_named_events(events)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=wire)

    client = client_for("text_basic", fail_midway)
    seen = list(_types(client.responses.create(model="smart", input="hi", stream=True)))
    assert seen[-1] == "response.failed"
    with client.responses.stream(model="smart", input="hi") as s:
        last = list(s)[-1]
        assert last.type == "response.failed"
        assert last.response.error is not None
        assert last.response.error.code == "server_error"
        with pytest.raises(RuntimeError):
            s.get_final_response()  # no response.completed: the helper says so


def _types(stream: Any) -> Iterator[str]:
    for event in stream:
        yield event.type
