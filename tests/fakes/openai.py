"""A fake OpenAI-compatible upstream for end-to-end tests.

Behaviour is set on the instance by the test (not per request): `status`, `content`,
`delay` (seconds before the headers), `chunks`/`chunk_delay` for streams, `mode` for the
odd cases ("ok", "malformed", "redirect", "first_event_error", "truncate", "stall"),
`headers` (extra response headers), `gates` (lock-step streams). Every request is recorded
in `requests`.

`POST /v1/responses` answers in the Responses format (responses_fake.py): the same `status`,
`content`, `chunks` and `mode` apply.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

HOLD_LIMIT = 10.0


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    path: str


@dataclass
class FakeOpenAI:
    name: str = "fake"
    status: int = 200
    content: str = "Hello from the fake upstream."
    delay: float = 0.0
    chunks: int = 5
    chunk_delay: float = 0.0
    mode: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    redirect_to: str = ""
    requests: list[Received] = field(default_factory=list)
    # Lock-step streams: content chunk i+1 is sent only once gates[i] is set (by the test,
    # when its client has chunk i), at most HOLD_LIMIT s.
    gates: list[threading.Event] = field(default_factory=list)
    chunk_times: list[float] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)  # /v1/responses bodies as received

    @property
    def hits(self) -> int:
        return len(self.requests)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/responses", self._responses, methods=["POST"]),
            ]
        )

    async def _responses(self, request: Request) -> Response:
        from tests.fakes.responses_fake import respond  # the Responses wire format

        raw = await request.body()
        body = orjson.loads(raw)
        self.requests.append(Received(dict(request.headers), body, request.url.path))
        self.raw_bodies.append(raw)
        if self.status != 200:
            return self._error(request)
        return respond(self, body)

    async def _chat(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(Received(dict(request.headers), body, request.url.path))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "redirect":
            return Response(status_code=302, headers={"location": self.redirect_to})
        if self.status != 200:
            return self._error(request)
        if self.mode == "malformed":
            return Response(b"<html><body>502 Bad Gateway</body></html>", media_type="text/html")
        if body.get("stream"):
            return StreamingResponse(self._events(body), media_type="text/event-stream")
        return Response(orjson.dumps(self.completion(body)), media_type="application/json")

    def _error(self, request: Request) -> Response:
        message = f"fake error {self.status}"
        if self.mode == "echo_auth":
            message += f" (you sent {request.headers.get('authorization')})"
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
        return Response(
            orjson.dumps({"error": error}),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }

    def _chunk(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> bytes:
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": body.get("model"),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    async def _events(self, body: dict[str, Any]) -> Any:
        if self.mode == "first_event_error":
            yield b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
            return
        yield b": keep-alive\n\n"
        yield self._chunk(body, {"role": "assistant", "content": ""}, None)
        words = [f"w{i} " for i in range(self.chunks)]
        for i, word in enumerate(words):
            if self.mode == "stall" and i == 3:
                await asyncio.sleep(3600)
            if self.mode == "truncate" and i == 3:
                return
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            if 0 < i <= len(self.gates):
                await asyncio.get_running_loop().run_in_executor(
                    None, self.gates[i - 1].wait, HOLD_LIMIT
                )
            self.chunk_times.append(time.monotonic())
            yield self._chunk(body, {"content": word}, None)
        yield self._chunk(body, {}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": 5,
                "completion_tokens": self.chunks,
                "total_tokens": 5 + self.chunks,
            }
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": body.get("model"),
                "choices": [],
                "usage": usage,
            }
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"
