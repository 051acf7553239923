"""Three provider wire formats, as small hand-written transcripts for the scripted fake.

Each format knows how to frame an SSE event, its complete happy transcript, an in-band
error event, a keep-alive, an error body for a status, and a non-stream answer. The
shapes follow the providers' own type definitions (openai.types.chat.ChatCompletionChunk,
anthropic.types.Raw*Event, google.genai.types.GenerateContentResponse); the terminal
semantics are what the tests care about:

- openai: `data: {...}\\n\\n` chunks, complete only with `data: [DONE]`;
- anthropic: `event: <type>` + `data:` pairs, complete only with `message_stop`;
- gemini: `alt=sse` `data: {...}\\r\\n\\r\\n`, complete once a chunk carries `finishReason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"
GEMINI_KEY = "AIzaFakeKeyForTests0123456789abcdefgh"


def words(n: int) -> list[str]:
    """n distinct content pieces; their concatenation is the expected answer."""
    return [f"w{i} " for i in range(n)]


@dataclass(frozen=True)
class WireFormat:
    name: str  # openai | anthropic | gemini
    provider_type: str
    eol: bytes
    api_key: str = PROVIDER_KEY

    def __str__(self) -> str:
        return self.name

    # --- configuration -----------------------------------------------------------------

    def provider(self, root_url: str, **extra: Any) -> dict[str, Any]:
        """The providers.<name> mapping pointing this format's adapter at a fake on root_url."""
        base = f"{root_url}/v1" if self.name == "openai" else root_url
        return {"type": self.provider_type, "base_url": base, "api_key": self.api_key, **extra}

    def is_stream(self, path: str, body: Any) -> bool:
        if self.name == "gemini":
            return "streamGenerateContent" in path
        return isinstance(body, dict) and body.get("stream") is True

    # --- SSE --------------------------------------------------------------------------

    def frame(self, data: bytes, event: str | None = None) -> bytes:
        lines = [b"event: " + event.encode()] if event else []
        lines.append(b"data: " + data)
        return self.eol.join(lines) + self.eol + self.eol

    def _json_event(self, payload: dict[str, Any], event: str | None = None) -> bytes:
        return self.frame(orjson.dumps(payload), event)

    def transcript(self, n_words: int = 6) -> list[bytes]:
        """A complete, valid stream whose content is "".join(words(n_words))."""
        pieces = words(n_words)
        if self.name == "openai":
            events = [_openai_chunk(self, {"role": "assistant", "content": ""}, None)]
            events += [_openai_chunk(self, {"content": w}, None) for w in pieces]
            events.append(_openai_chunk(self, {}, "stop"))
            events.append(self.frame(b"[DONE]"))
            return events
        if self.name == "anthropic":
            start = {
                "type": "message_start",
                "message": {
                    "id": "msg_01Scripted",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-scripted",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                },
            }
            events = [
                self._json_event(start, "message_start"),
                self._json_event(
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                    "content_block_start",
                ),
            ]
            events += [
                self._json_event(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": w},
                    },
                    "content_block_delta",
                )
                for w in pieces
            ]
            events += [
                self._json_event({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                self._json_event(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": n_words},
                    },
                    "message_delta",
                ),
                self._json_event({"type": "message_stop"}, "message_stop"),
            ]
            return events
        events = [
            self._json_event(_gemini_chunk(w, "STOP" if i == n_words - 1 else None, i + 1))
            for i, w in enumerate(pieces)
        ]
        return events

    def first_error_event(self) -> bytes:
        """A 200 stream whose first event is a (retryable, provider-side) error object."""
        if self.name == "openai":
            error = {"message": "The server is overloaded", "type": "server_error", "code": None}
            return self._json_event({"error": error})
        if self.name == "anthropic":
            error = {"type": "overloaded_error", "message": "Overloaded"}
            return self._json_event({"type": "error", "error": error}, "error")
        error = {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
        return self._json_event({"error": error})

    def ping(self) -> bytes:
        if self.name == "anthropic":
            return self._json_event({"type": "ping"}, "ping")
        return b": keep-alive" + self.eol + self.eol

    def bad_json_event(self) -> bytes:
        return self.frame(b'{"choices": [{"delta": {"content": "broken', self._delta_event())

    def huge_line_event(self, size: int) -> bytes:
        """One `data:` line of `size` bytes: longer than the proxy's SSE line cap."""
        return self.frame(b"x" * size, self._delta_event())

    def no_data_event(self) -> bytes:
        """An event whose JSON line lacks its `data:` prefix (a field named `{"...`)."""
        return b'{"oops": "no data prefix"}' + self.eol + self.eol

    def _delta_event(self) -> str | None:
        return "content_block_delta" if self.name == "anthropic" else None

    # --- non-stream -------------------------------------------------------------------

    def answer(self, text: str = "scripted answer") -> bytes:
        if self.name == "openai":
            return orjson.dumps(
                {
                    "id": "chatcmpl-scripted",
                    "object": "chat.completion",
                    "created": 1700000000,
                    "model": "scripted",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                }
            )
        if self.name == "anthropic":
            return orjson.dumps(
                {
                    "id": "msg_01Scripted",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-scripted",
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 3, "output_tokens": 2},
                }
            )
        return orjson.dumps(_gemini_chunk(text, "STOP", 2))

    def error_body(self, status: int, message: str = "scripted failure") -> bytes:
        if self.name == "openai":
            kind = "rate_limit_error" if status == 429 else "server_error"
            return orjson.dumps(
                {"error": {"message": message, "type": kind, "param": None, "code": None}}
            )
        if self.name == "anthropic":
            kind = _ANTHROPIC_TYPES.get(status, "api_error")
            return orjson.dumps(
                {"type": "error", "error": {"type": kind, "message": message}, "request_id": "r"}
            )
        state = _GEMINI_STATUSES.get(status, "INTERNAL")
        return orjson.dumps({"error": {"code": status, "message": message, "status": state}})


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _openai_chunk(fmt: WireFormat, delta: dict[str, Any], finish: str | None) -> bytes:
    chunk = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return fmt.frame(orjson.dumps(chunk))


def _gemini_chunk(text: str, finish: str | None, tokens: int) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": 3,
            "candidatesTokenCount": tokens,
            "totalTokenCount": 3 + tokens,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "scripted-response",
    }


OPENAI = WireFormat("openai", "openai", b"\n")
ANTHROPIC = WireFormat("anthropic", "anthropic", b"\n")
GEMINI = WireFormat("gemini", "gemini", b"\r\n", api_key=GEMINI_KEY)
FORMATS = [OPENAI, ANTHROPIC, GEMINI]
