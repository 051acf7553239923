"""Chat chunks -> Messages events: golden fixtures, stream/non-stream parity (the anthropic
SDK's own accumulator over our events equals from_chat's message), and the pipe wrapper."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event

from proxy.errors import upstream_transport_error
from proxy.providers.pipes import FailedAfter, failed_after
from proxy.sse import DONE, SSEDecoder, encode_chunks
from proxy.surfaces.messages.from_chat import to_message
from proxy.surfaces.messages.stream import ChatToMessages, MessagesStreamPipe
from tests.surfaces.messages.golden import CASES, MESSAGE_ID, MODEL, load


def translate(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translator = ChatToMessages(MESSAGE_ID, MODEL)
    events = [e for chunk in chunks for e in translator.feed(chunk)]
    return events + translator.finish()


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    assert translate(load(case, "chat_chunks.json")) == load(case, "messages_events.json")


@pytest.mark.parametrize("case", CASES)
def test_stream_and_non_stream_agree(case: str) -> None:
    snapshot: Any = None
    buffers: dict[int, bytes] = {}
    for event in load(case, "messages_events.json"):
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)
    whole = to_message(load(case, "chat_response.json"), MESSAGE_ID, MODEL)
    streamed = snapshot.model_dump(exclude_none=True)
    assert streamed["content"] == [
        {k: v for k, v in block.items() if v is not None} for block in whole["content"]
    ]
    assert streamed["stop_reason"] == whole["stop_reason"]
    assert streamed["usage"]["output_tokens"] == whole["usage"]["output_tokens"]
    assert streamed["usage"]["input_tokens"] == whole["usage"]["input_tokens"]


class _Inner:
    """A Chat Completions pipe stand-in: returns what it is given, fails when told."""

    def __init__(self, fail_with: FailedAfter | None = None) -> None:
        self.fail_with = fail_with
        self.usage = None

    def feed(self, raw: bytes) -> bytes:
        if self.fail_with is not None:
            raise self.fail_with
        return raw

    def finish(self) -> bytes:
        return DONE


def _events(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(e.data) for e in SSEDecoder().feed(data)]


def test_pipe_translates_and_ends_with_message_stop() -> None:
    chunks = load("text", "chat_chunks.json")
    pipe = MessagesStreamPipe(_Inner(), ChatToMessages(MESSAGE_ID, MODEL))  # type: ignore[arg-type]
    out = pipe.feed(encode_chunks(chunks)) + pipe.finish()
    assert b"event: message_start\n" in out
    assert _events(out) == load("text", "messages_events.json")


def test_failure_after_good_chunks_keeps_them_translated() -> None:
    chunks = load("text", "chat_chunks.json")[:2]
    error = upstream_transport_error("p", "stream_error", "cut")
    failure = failed_after(error, encode_chunks(chunks))
    assert isinstance(failure, FailedAfter)
    pipe = MessagesStreamPipe(_Inner(failure), ChatToMessages(MESSAGE_ID, MODEL))  # type: ignore[arg-type]
    with pytest.raises(FailedAfter) as caught:
        pipe.feed(b"anything")
    kinds = [e["type"] for e in _events(caught.value.before)]
    assert kinds == ["message_start", "content_block_start", "content_block_delta"]
