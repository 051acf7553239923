"""Entries: built only from complete, storable answers; assembled from streams (content,
tool calls, finish_reason, usage); a corrupt entry decodes to None (a miss)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.cache.entry import Entry, decode, encode, from_completion, from_stream
from proxy.providers.base import Usage
from proxy.sse import DONE, encode_chunks


def completion(finish: str = "stop") -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


TOOL_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}),
    chunk({}, "tool_calls"),
]


@pytest.mark.parametrize(
    ("finish", "stored"),
    [("stop", True), ("length", True), ("tool_calls", True), ("content_filter", False)],
)
def test_only_storable_finishes(finish: str, stored: bool) -> None:
    found = from_completion(completion(finish), 10.0, 0.0)
    assert (found is not None) == stored
    if found is not None:
        assert "id" not in found.completion and "created" not in found.completion


def test_stream_with_tool_calls_is_assembled() -> None:
    found = from_stream(encode_chunks(TOOL_STREAM) + DONE, Usage(3, 4), 10.0, 0.5)
    assert found is not None
    message = found.completion["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": '{"a": 1}'}}
    ]
    assert found.completion["usage"]["total_tokens"] == 7


@pytest.mark.parametrize(
    "sse",
    [
        encode_chunks([chunk({"content": "a"})]),  # no [DONE]: a cut stream
        encode_chunks([chunk({"content": "a"}), {"error": {"message": "x"}}]),
        encode_chunks([chunk({"content": "a"}), chunk({}, "content_filter")]) + DONE,
        encode_chunks([chunk({"content": "a"})]) + DONE,  # no finish_reason
        b"",
    ],
)
def test_streams_never_stored(sse: bytes) -> None:
    assert from_stream(sse, None, 1.0, 0.0) is None


def test_round_trip_and_corrupt_entries() -> None:
    found = from_completion(completion(), 10.0, 0.25)
    assert found is not None and decode(encode(found)) == found
    for corrupt in (
        b"",
        b"not json",
        b"[]",
        b'{"v": 99}',
        b'{"v": 1, "at": 1, "cost": 0}',
        orjson.dumps({"v": 1, "at": "x", "cost": 0, "c": found.completion}),
    ):
        assert decode(corrupt) is None
    assert isinstance(found, Entry)
