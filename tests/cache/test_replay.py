"""Replay: an entry back as a chat.completion or a chunk stream, checked against the
openai SDK's own types; fresh ids; the usage chunk only when asked."""

from __future__ import annotations

import orjson
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from proxy.cache.entry import from_completion, from_stream
from proxy.cache.replay import completion_body, stream_body
from proxy.providers.base import Usage
from proxy.sse import DONE, encode_chunks
from tests.cache.test_entry import TOOL_STREAM, completion


def chunks_of(body: bytes) -> list[ChatCompletionChunk]:
    datas = [ln[6:] for ln in body.split(b"\n") if ln.startswith(b"data: ")]
    assert datas[-1] == b"[DONE]"
    return [ChatCompletionChunk.model_validate(orjson.loads(d)) for d in datas[:-1]]


def test_completion_gets_fresh_id_and_created() -> None:
    entry = from_completion(completion(), 10.0, 0.0)
    assert entry is not None
    answer = ChatCompletion.model_validate(orjson.loads(completion_body(entry, "chatcmpl-new", 42)))
    assert (answer.id, answer.created) == ("chatcmpl-new", 42)
    assert answer.choices[0].message.content == "hi"
    assert answer.usage is not None and answer.usage.total_tokens == 2


def test_stream_replay_is_well_formed_with_usage_only_if_asked() -> None:
    entry = from_completion(completion(), 10.0, 0.0)
    assert entry is not None
    without = chunks_of(stream_body(entry, "chatcmpl-new", 42, include_usage=False))
    assert all(c.usage is None and c.choices for c in without)
    assert {c.id for c in without} == {"chatcmpl-new"}
    assert without[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in without) == "hi"
    assert without[-1].choices[0].finish_reason == "stop"
    with_usage = chunks_of(stream_body(entry, "chatcmpl-new", 42, include_usage=True))
    assert with_usage[-1].choices == [] and with_usage[-1].usage is not None


def test_tool_calls_replay_as_a_stream_and_as_a_completion() -> None:
    entry = from_stream(encode_chunks(TOOL_STREAM) + DONE, Usage(3, 4), 10.0, 0.0)
    assert entry is not None
    chunks = chunks_of(stream_body(entry, "chatcmpl-x", 1, include_usage=False))
    calls = [t for c in chunks for t in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].index == 0 and calls[0].id == "call_1"
    assert calls[0].function is not None and orjson.loads(calls[0].function.arguments or "") == {
        "a": 1
    }
    whole = ChatCompletion.model_validate(orjson.loads(completion_body(entry, "chatcmpl-y", 1)))
    assert whole.choices[0].finish_reason == "tool_calls"
