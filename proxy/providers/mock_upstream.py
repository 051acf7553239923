"""An in-process OpenAI-compatible upstream (an httpx transport) for the `mock` provider.

The one provider module that imports httpx: it is the mock's upstream, not a translator."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import orjson

from proxy.config import ProviderConfig


class MockUpstreamTransport(httpx.AsyncBaseTransport):
    def __init__(self, config: ProviderConfig) -> None:
        options: Mapping[str, Any] = config.options
        self._latency = int(options.get("latency_ms", 0)) / 1000
        self._chunk_delay = int(options.get("chunk_delay_ms", 0)) / 1000
        self._chunks = int(options.get("stream_chunks", 0))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(await request.aread())
        if self._latency:
            await asyncio.sleep(self._latency)
        if request.url.path.endswith("/embeddings"):
            return httpx.Response(200, content=mock_embeddings(body))
        answer = MockAnswer(body)
        if body.get("stream") is True:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=_Stream(answer.sse(self._chunks, include_usage), self._chunk_delay),
            )
        return httpx.Response(
            200, headers={"content-type": "application/json"}, content=answer.json()
        )


class MockAnswer:
    """The deterministic answer to one request body."""

    def __init__(self, body: dict[str, Any]) -> None:
        prompt = _last_user_text(body.get("messages") or [])
        self.model = str(body.get("model", "mock"))
        self.text = f"Mock answer to: {prompt}" if prompt else "Mock answer."
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:24]
        self.id = f"chatcmpl-mock{digest}"
        self.created = int(time.time())
        prompt_tokens = sum(_count_tokens(m.get("content")) for m in body.get("messages") or [])
        completion_tokens = len(self.text.split())
        self.usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": self.usage,
            }
        )

    def sse(self, chunks: int, include_usage: bool) -> list[bytes]:
        words = self.text.split(" ")
        n = max(1, min(chunks or len(words), len(words)))
        size = -(-len(words) // n)
        pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
        pieces = [p if i == 0 else " " + p for i, p in enumerate(pieces)]
        events = [self._chunk({"role": "assistant", "content": ""}, None)]
        events += [self._chunk({"content": p}, None) for p in pieces]
        events.append(self._chunk({}, "stop"))
        if include_usage:
            events.append(self._event({"choices": [], "usage": self.usage}))
        events.append(b"data: [DONE]\n\n")
        return events

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._event({"choices": [choice]})

    def _event(self, fields: dict[str, Any]) -> bytes:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            **fields,
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"


def mock_embeddings(body: dict[str, Any]) -> bytes:
    """Deterministic unit-free vectors (8 floats, or `dimensions`) from each input's hash."""
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw or []
    size = min(int(body.get("dimensions") or 8), 4096)  # the proxy validated an int
    data = []
    for index, item in enumerate(inputs):
        digest = hashlib.sha256(orjson.dumps(item)).digest()
        vector = [(digest[i % 32] - 128) / 128 for i in range(size)]
        if body.get("encoding_format") == "base64":
            packed: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        else:
            packed = vector
        data.append({"object": "embedding", "index": index, "embedding": packed})
    tokens = sum(len(str(item).split()) for item in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return orjson.dumps(
        {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
    )


class _Stream(httpx.AsyncByteStream):
    def __init__(self, events: list[bytes], delay: float) -> None:
        self._events = events
        self._delay = delay

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, event in enumerate(self._events):
            if self._delay and i:
                await asyncio.sleep(self._delay)
            yield event


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))[:500]
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _count_tokens(content: Any) -> int:
    return max(1, len(_text_of(content).split()))
