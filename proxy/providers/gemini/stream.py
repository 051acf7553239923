"""Gemini `streamGenerateContent?alt=sse` events -> OpenAI chat.completion.chunk dicts.

Each SSE event's data is a whole GenerateContentResponse holding the next slice of every
candidate (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
Per choice the translator emits: one role chunk first; then per event a reasoning chunk
(thought parts), a content chunk (text parts, with logprobs when asked) and one chunk per
functionCall (Gemini sends each call whole: id, type, name and the complete arguments in one
delta, at the next tool index of that choice); and exactly one finish_reason chunk, which
says tool_calls if a functionCall appeared in any earlier event of that choice.

Gemini has no terminal event: a stream is complete once every choice it opened has had a
finishReason (or the prompt was blocked). `finish()` raises upstream_truncated otherwise.
usageMetadata repeats cumulatively; the last one is kept and sent as the final usage chunk
(`choices: []`) only when the client asked for stream_options.include_usage.
"""

from __future__ import annotations

from typing import Any

from proxy.errors import upstream_transport_error
from proxy.providers.base import CallContext, OpenAIChunk, Usage
from proxy.providers.gemini.errors import error_from_object
from proxy.providers.gemini.response import (
    MalformedResponse,
    block_reason,
    candidates_of,
    finish_reason,
    openai_logprobs,
    openai_tool_call,
    openai_usage,
    read_parts,
    usage_of,
)
from proxy.sse import SSEEvent, SSEProtocolError


class GeminiStreamTranslator:
    def __init__(self, ctx: CallContext, provider: str = "gemini") -> None:
        self._ctx = ctx
        self._provider = provider
        self._opened: set[int] = set()  # choices whose role chunk went out
        self._tool_calls: dict[int, int] = {}  # choice -> function calls so far
        self._finished: set[int] = set()
        self._blocked = False
        self._usage_metadata: Any = None

    def feed(self, event: SSEEvent) -> list[OpenAIChunk]:
        try:
            payload = event.json()
            if not isinstance(payload, dict):
                raise MalformedResponse("event data is not a JSON object")
            if "error" in payload and isinstance(payload["error"], dict):
                raise error_from_object(self._provider, None, payload["error"])
            return self._translate(payload)
        except (SSEProtocolError, MalformedResponse) as exc:
            raise upstream_transport_error(self._provider, "malformed_response", str(exc)) from exc

    def finish(self) -> list[OpenAIChunk]:
        if not self._blocked and (not self._opened or self._opened - self._finished):
            raise upstream_transport_error(
                self._provider,
                "upstream_truncated",
                "the stream ended before Gemini sent a finishReason",
            )
        if not self._ctx.include_usage:
            return []
        chunk = self._chunk([])
        chunk["usage"] = openai_usage(self._usage_metadata)
        return [chunk]

    @property
    def usage(self) -> Usage | None:
        return usage_of(self._usage_metadata)

    # --- translation -------------------------------------------------------------------

    def _translate(self, payload: dict[str, Any]) -> list[OpenAIChunk]:
        if payload.get("usageMetadata") is not None:
            self._usage_metadata = payload["usageMetadata"]
        candidates = candidates_of(payload)
        chunks: list[OpenAIChunk] = []
        if not candidates and block_reason(payload) is not None:
            self._blocked = True
            self._open(0, chunks)
            self._finish(0, "content_filter", chunks)
        for candidate in candidates:
            index = candidate.get("index", 0)
            if not isinstance(index, int) or isinstance(index, bool):
                raise MalformedResponse("candidate.index is not an integer")
            self._candidate(index, candidate, chunks)
        return chunks

    def _candidate(self, index: int, candidate: dict[str, Any], chunks: list[OpenAIChunk]) -> None:
        if index in self._finished:
            return  # one finish_reason per choice: anything after it is not forwarded
        self._open(index, chunks)
        parts = read_parts(candidate)
        if parts.reasoning:
            chunks.append(self._delta(index, {"reasoning_content": parts.reasoning}))
        if parts.text:
            logprobs = openai_logprobs(candidate.get("logprobsResult"))
            chunks.append(self._delta(index, {"content": parts.text}, logprobs))
        for call in parts.calls:
            position = self._tool_calls.get(index, 0)
            self._tool_calls[index] = position + 1
            tool_call = {"index": position, **openai_tool_call(self._ctx, index, position, call)}
            chunks.append(self._delta(index, {"tool_calls": [tool_call]}))
        reason = candidate.get("finishReason")
        if reason is not None:
            self._finish(index, finish_reason(reason, index in self._tool_calls), chunks)

    def _open(self, index: int, chunks: list[OpenAIChunk]) -> None:
        if index not in self._opened:
            self._opened.add(index)
            chunks.append(self._delta(index, {"role": "assistant", "content": "", "refusal": None}))

    def _finish(self, index: int, reason: str, chunks: list[OpenAIChunk]) -> None:
        if index in self._finished:
            return
        self._finished.add(index)
        choice = {"index": index, "delta": {}, "logprobs": None, "finish_reason": reason}
        chunks.append(self._chunk([choice]))

    def _delta(
        self, index: int, delta: dict[str, Any], logprobs: dict[str, Any] | None = None
    ) -> OpenAIChunk:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": None}
        return self._chunk([choice])

    def _chunk(self, choices: list[dict[str, Any]]) -> OpenAIChunk:
        chunk: OpenAIChunk = {
            "id": self._ctx.response_id,
            "object": "chat.completion.chunk",
            "created": self._ctx.created,
            "model": self._ctx.public_model,
            "choices": choices,
        }
        if self._ctx.include_usage:
            chunk["usage"] = None  # as OpenAI does on every chunk but the last
        return chunk
