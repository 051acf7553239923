"""Fake embeddings upstreams: OpenAI's `/v1/embeddings` and Gemini's `batchEmbedContents`.

Vectors are deterministic and exact in float32 (so base64 round trips compare equal):
input i of a batch gets `[len(text), i, 0.25, -0.5, 1.0, ...]` cut to `dimensions`.
Both fakes record every request and answer `status` (with an error body) when it is set.
The Gemini fake is checked with the google-genai SDK (tests/e2e/test_embeddings_fake_sdk.py).
"""

from __future__ import annotations

import asyncio
import base64
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DEFAULT_DIMENSIONS = 6


def vector(text_length: int, index: int, dimensions: int | None) -> list[float]:
    values = [float(text_length), float(index), 0.25, -0.5, 1.0, 2.0, 0.125, -4.0]
    size = dimensions or DEFAULT_DIMENSIONS
    return (values * (size // len(values) + 1))[:size]


def floats_of_base64(text: str) -> list[float]:
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAIEmbeddings:
    status: int = 200
    delay: float = 0.0  # seconds before answering
    requests: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{prefix:path}/embeddings", self._embed, methods=["POST"])])

    async def _embed(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(
            Received(request.url.path, request.url.query, dict(request.headers), body)
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            error = {"message": f"fake error {self.status}", "type": "server_error"}
            return Response(orjson.dumps({"error": error}), self.status, media_type=JSON)
        raw = body["input"]
        inputs = [raw] if isinstance(raw, str) or isinstance(raw[0], int) else raw
        data = []
        for i, item in enumerate(inputs):
            values = vector(len(item), i, body.get("dimensions"))
            encoded: Any = values
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = sum(len(item) for item in inputs)
        answer = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(orjson.dumps(answer), media_type=JSON)


@dataclass
class FakeGeminiEmbeddings:
    api_key: str = "fake-gemini-key"
    status: int = 200
    with_usage: bool = True
    requests: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        route = Route("/{version}/models/{target:path}", self._embed, methods=["POST"])
        return Starlette(routes=[route])

    async def _embed(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(
            Received(request.url.path, request.url.query, dict(request.headers), body)
        )
        model, _, method = request.path_params["target"].partition(":")
        if method != "batchEmbedContents":
            return _gemini_error(404, "NOT_FOUND", f"Method {method!r} is not served here.")
        if request.headers.get("x-goog-api-key") != self.api_key:
            return _gemini_error(400, "INVALID_ARGUMENT", "API key not valid.")
        if self.status != 200:
            return _gemini_error(self.status, "UNAVAILABLE", "The model is overloaded.")
        embeddings = []
        tokens = 0
        for i, item in enumerate(body["requests"]):
            if item.get("model") != f"models/{model}":
                # The real API insists each request names the model of the URL.
                return _gemini_error(400, "INVALID_ARGUMENT", "Model mismatch in requests[].")
            text = item["content"]["parts"][0]["text"]
            tokens += len(text)
            values = vector(len(text), i, item.get("outputDimensionality"))
            embeddings.append({"values": values})
        answer: dict[str, Any] = {"embeddings": embeddings}
        if self.with_usage:
            answer["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        return Response(orjson.dumps(answer), media_type=JSON)


JSON = "application/json"


def _gemini_error(status: int, kind: str, message: str) -> Response:
    body = {"error": {"code": status, "message": message, "status": kind}}
    return Response(orjson.dumps(body), status, media_type=JSON)
