"""Chat Completions chunks -> the Anthropic Messages event stream, one translator per stream.

Events (https://docs.anthropic.com/en/docs/build-with-claude/streaming, the `anthropic.types
.Raw*Event` models): `message_start`, then per content block `content_block_start`,
`content_block_delta` (text_delta, thinking_delta, input_json_delta) and
`content_block_stop`, then `message_delta` (stop_reason, usage) and `message_stop`.
Blocks are sequential, as Anthropic's are: a new kind of delta closes the open block.
reasoning_content deltas -> a thinking block; content -> a text block; each new tool call
(a delta with an id) -> a tool_use block whose argument fragments become input_json_delta.

`MessagesStreamPipe` wraps the route's own Chat Completions pipe (translating or
passthrough), so the provider adapters are reused as they are: their client-side bytes are
decoded once more and re-encoded as Messages events. A failure after good chunks
(FailedAfter) keeps those chunks, translated.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from proxy.errors import UpstreamError
from proxy.providers.anthropic.ids import to_anthropic_id
from proxy.providers.base import StreamPipe, Usage
from proxy.providers.pipes import FailedAfter
from proxy.sse import SSEDecoder
from proxy.surfaces.messages.from_chat import message_usage, stop_reason

Event = dict[str, Any]


def encode_events(events: list[Event]) -> bytes:
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )


class ChatToMessages:
    """chat.completion.chunk dicts in, Messages event dicts out."""

    def __init__(self, message_id: str, model: str) -> None:
        self._id = message_id
        self._model = model
        self._started = False
        self._blocks = 0  # content blocks opened so far
        self._open: tuple[str, int] | None = None  # (kind, its tool index or -1)
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool index -> block index
        self._finish: Any = None
        self._usage: Any = None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        if not self._started:
            out.append(self._message_start())
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                out += self._delta(
                    "thinking", -1, {"type": "thinking_delta", "thinking": reasoning}
                )
            text = delta.get("content")
            if isinstance(text, str) and text:
                out += self._delta("text", -1, {"type": "text_delta", "text": text})
            for call in delta.get("tool_calls") or ():
                out += self._tool_call(call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return out

    def finish(self) -> list[Event]:
        out: list[Event] = [] if self._started else [self._message_start()]
        out += self._close()
        usage = message_usage(self._usage)
        delta = {"stop_reason": stop_reason(self._finish), "stop_sequence": None}
        out.append({"type": "message_delta", "delta": delta, "usage": usage})
        out.append({"type": "message_stop"})
        return out

    def _message_start(self) -> Event:
        self._started = True
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return {"type": "message_start", "message": message}

    def _delta(self, kind: str, tool: int, delta: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        if self._open != (kind, tool):
            out += self._close()
            out.append(self._start(kind, tool, {}))
        out.append({"type": "content_block_delta", "index": self._blocks - 1, "delta": delta})
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        tool = call.get("index", 0)
        function = call.get("function") or {}
        out: list[Event] = []
        if call.get("id") and tool not in self._tool_blocks:
            out += self._close()
            out.append(self._start("tool_use", tool, call))
        fragment = function.get("arguments")
        if fragment and tool in self._tool_blocks:
            index = self._tool_blocks[tool]
            delta = {"type": "input_json_delta", "partial_json": fragment}
            out.append({"type": "content_block_delta", "index": index, "delta": delta})
        return out

    def _start(self, kind: str, tool: int, call: dict[str, Any]) -> Event:
        block: dict[str, Any]
        if kind == "text":
            block = {"type": "text", "text": ""}
        elif kind == "thinking":
            block = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            name = (call.get("function") or {}).get("name", "")
            block = {
                "type": "tool_use",
                "id": to_anthropic_id(call["id"]),
                "name": name,
                "input": {},
            }
            self._tool_blocks[tool] = self._blocks
        self._open = (kind, tool)
        self._blocks += 1
        return {"type": "content_block_start", "index": self._blocks - 1, "content_block": block}

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [{"type": "content_block_stop", "index": self._blocks - 1}]


class MessagesStreamPipe:
    """A route's Chat Completions pipe, its output re-encoded as Messages events."""

    def __init__(self, inner: StreamPipe, translator: ChatToMessages) -> None:
        self._inner = inner
        self._translator = translator
        self._decoder = SSEDecoder()

    def feed(self, raw: bytes) -> bytes:
        try:
            return self._translate(self._inner.feed(raw))
        except FailedAfter as error:
            raise self._keep(error) from None

    def finish(self) -> bytes:
        try:
            out = self._translate(self._inner.finish())
        except FailedAfter as error:
            raise self._keep(error) from None
        return out + encode_events(self._translator.finish())

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    def _translate(self, data: bytes) -> bytes:
        if not data:
            return b""
        events: list[Event] = []
        for sse in self._decoder.feed(data):
            if sse.data == "[DONE]":
                continue
            chunk = orjson.loads(sse.data)
            if isinstance(chunk, dict):
                events += self._translator.feed(chunk)
        return encode_events(events)

    def _keep(self, error: FailedAfter) -> UpstreamError:
        return dataclasses.replace(error, before=self._translate(error.before))
