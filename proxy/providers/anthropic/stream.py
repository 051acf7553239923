"""Anthropic Messages SSE events -> OpenAI chat.completion.chunk dicts, one translator per stream.

Event reference: https://docs.anthropic.com/en/docs/build-with-claude/streaming and the
`anthropic.types.Raw*Event` models. The event's JSON `type` is authoritative (the SSE
`event:` line repeats it).

- message_start -> the first chunk, `{"role": "assistant", "content": ""}`; input usage kept.
- text_delta -> `content`; citations, ping and unknown events are ignored.
- thinking and redacted_thinking blocks -> `thinking_blocks` and `reasoning_details` entries
  (reasoning.py), numbered 0, 1, ... in their `index` as the openai SDK's stream helper needs:
  the block's start opens its entry, thinking_delta adds text (also as `reasoning_content`),
  signature_delta adds the signature.
- tool_use content_block_start -> a `tool_calls` delta with id, type, name and "" arguments;
  its input_json_delta fragments follow at the same OpenAI index. OpenAI indexes count tool
  calls (0, 1, ...), not Anthropic content blocks, so a map from block index to tool index is
  kept (and one to reasoning index). Ids come down through ids.from_anthropic_id. A tool
  whose input streamed nothing gets "{}" at its content_block_stop so the concatenated
  arguments always parse. The json tool (json mode) streams as `content`.
- message_delta -> stop_reason and output usage kept; message_stop -> the stream is complete.
- finish() -> the one chunk carrying finish_reason, then, only if the client asked for
  `stream_options.include_usage`, the usage chunk with `choices: []`. Without message_stop it
  raises upstream_truncated. An `error` event raises at once.
"""

from __future__ import annotations

from typing import Any

from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.anthropic.errors import stream_error
from proxy.providers.anthropic.ids import from_anthropic_id
from proxy.providers.anthropic.reasoning import opening_delta, signature_delta, thinking_delta
from proxy.providers.anthropic.response import finish_reason, openai_usage, usage_record
from proxy.providers.anthropic.wire import JSON_TOOL_NAME, ReasoningBlock
from proxy.providers.base import CallContext, OpenAIChunk, Usage
from proxy.sse import SSEEvent, SSEProtocolError

_JSON_ANSWER = -1  # the block-to-tool map's marker for the json tool's block


class AnthropicStreamTranslator:
    def __init__(self, ctx: CallContext, provider: str = "anthropic") -> None:
        self._ctx = ctx
        self._provider = provider
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index
        self._streamed_input: set[int] = set()  # tool blocks whose input was not empty
        self._tool_calls = 0
        self._reasoning_index: dict[int, int] = {}  # Anthropic block index -> reasoning index
        self._usage: dict[str, Any] | None = None  # Anthropic usage, merged across events
        self._stop_reason: str | None = None
        self._stopped = False
        # Every chunk shares these fields; with include_usage OpenAI sends "usage": null on
        # all chunks but the last.
        self._base: dict[str, Any] = {
            "id": ctx.response_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.public_model,
            "system_fingerprint": None,
        }
        if ctx.include_usage:
            self._base["usage"] = None

    def feed(self, event: SSEEvent) -> list[OpenAIChunk]:
        try:
            data = event.json()
        except SSEProtocolError as exc:
            raise upstream_transport_error(self._provider, "stream_error", str(exc)) from exc
        if not isinstance(data, dict):
            raise upstream_transport_error(self._provider, "stream_error", "event is not an object")
        kind = data.get("type", event.event)
        try:
            return self._dispatch(kind, data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise upstream_transport_error(
                self._provider, "stream_error", f"unexpected {kind} event shape"
            ) from exc

    def _dispatch(self, kind: Any, data: dict[str, Any]) -> list[OpenAIChunk]:
        if kind == "content_block_delta":
            return self._block_delta(data["index"], data["delta"])
        if kind == "content_block_start":
            return self._block_start(data["index"], data["content_block"])
        if kind == "content_block_stop":
            return self._block_stop(data["index"])
        if kind == "message_start":
            self._merge_usage(data["message"].get("usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "message_delta":
            self._stop_reason = data["delta"].get("stop_reason") or self._stop_reason
            self._merge_usage(data.get("usage"))
            return []
        if kind == "message_stop":
            self._stopped = True
            return []
        if kind == "error":
            raise self._in_band_error(data.get("error"))
        return []  # ping, and event types newer than this code

    def _block_start(self, index: int, block: dict[str, Any]) -> list[OpenAIChunk]:
        kind = block["type"]
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind in ("thinking", "redacted_thinking"):
            return [self._chunk(self._open_reasoning(index, block))]
        if kind != "tool_use":
            return []
        if block["name"] == JSON_TOOL_NAME:
            self._tool_index[index] = _JSON_ANSWER
            return []
        position = self._tool_calls
        self._tool_calls += 1
        self._tool_index[index] = position
        call = {
            "index": position,
            "id": from_anthropic_id(block["id"]),
            "type": "function",
            "function": {"name": block["name"], "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[OpenAIChunk]:
        kind = delta["type"]
        if kind == "text_delta":
            return [self._chunk({"content": delta["text"]})] if delta["text"] else []
        if kind == "thinking_delta":
            thinking = _string(delta, "thinking")
            position = self._reasoning_index[index]
            return [self._chunk(thinking_delta(thinking, position))] if thinking else []
        if kind == "signature_delta":
            position = self._reasoning_index[index]
            return [self._chunk(signature_delta(_string(delta, "signature"), position))]
        if kind == "input_json_delta" and delta["partial_json"]:
            self._streamed_input.add(index)
            return [self._arguments(index, delta["partial_json"])]
        return []  # citations_delta, empty fragments

    def _open_reasoning(self, index: int, block: dict[str, Any]) -> dict[str, Any]:
        position = len(self._reasoning_index)
        self._reasoning_index[index] = position
        entry: ReasoningBlock
        if block["type"] == "thinking":
            thinking, signature = _string(block, "thinking"), _string(block, "signature")
            entry = {"type": "thinking", "thinking": thinking, "signature": signature}
        else:
            entry = {"type": "redacted_thinking", "data": _string(block, "data")}
        return opening_delta(entry, position)

    def _block_stop(self, index: int) -> list[OpenAIChunk]:
        if index in self._tool_index and index not in self._streamed_input:
            return [self._arguments(index, "{}")]  # a tool called with no input
        return []

    def _arguments(self, index: int, fragment: str) -> OpenAIChunk:
        position = self._tool_index[index]
        if position == _JSON_ANSWER:
            return self._chunk({"content": fragment})
        call = {"index": position, "function": {"arguments": fragment}}
        return self._chunk({"tool_calls": [call]})

    def _merge_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        merged = dict(self._usage or {})
        # message_delta counts are cumulative; a null means "unchanged".
        merged.update((key, value) for key, value in usage.items() if value is not None)
        self._usage = merged

    def _in_band_error(self, error: Any) -> UpstreamError:
        if not isinstance(error, dict):
            error = {}
        return stream_error(self._provider, error.get("type"), error.get("message"))

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> OpenAIChunk:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._base, "choices": [choice]}

    def finish(self) -> list[OpenAIChunk]:
        if not self._stopped:
            raise upstream_transport_error(
                self._provider, "upstream_truncated", "the stream ended before message_stop"
            )
        chunks = [self._chunk({}, finish_reason(self._stop_reason, self._tool_calls))]
        if self._ctx.include_usage:
            chunks.append({**self._base, "choices": [], "usage": openai_usage(self._usage or {})})
        return chunks

    @property
    def usage(self) -> Usage | None:
        if self._usage is None:
            return None
        return usage_record(openai_usage(self._usage))


def _string(fields: dict[str, Any], key: str) -> str:
    """A string field of an event; absent is "" (a thinking block starts with empty fields)."""
    value = fields.get(key, "")
    if not isinstance(value, str):
        raise TypeError(key)  # feed() reports it as a malformed event
    return value
