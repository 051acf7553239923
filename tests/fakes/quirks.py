"""A fake OpenAI-compatible upstream that speaks with each preset vendor's documented quirks.

The quirk profile is chosen by the first path segment (`/{preset}/v1/chat/completions`, or
`/perplexity/chat/completions`: Perplexity has no /v1), so one server plays every vendor.
The fake's exact bytes are kept in `sent` so tests can check passthrough byte for byte.

Quirks (sources in proxy/config/presets.py):
- openrouter: `: OPENROUTER PROCESSING` SSE comments before and between chunks, `reasoning`
  in deltas, a `provider` field, usage in a last chunk whose `choices` is empty;
- perplexity: top-level `citations` and `search_results`, in the answer and every chunk;
- xai, deepseek, vllm: `reasoning_content` in deltas and messages;
- groq: `x_groq` (with its usage) on the first and last chunks;
- ollama: chunks without an `id`;
- together, fireworks, mistral, cohere, lmstudio: plain OpenAI shapes, usage on the last
  content chunk (Mistral) or a separate usage chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
CITATIONS = ["https://example.com/a", "https://example.com/b"]
SEARCH_RESULTS = [{"title": "A", "url": "https://example.com/a", "date": "2025-01-01"}]
REASONING_FIELD = {"openrouter": "reasoning", "xai": "reasoning_content"}
REASONING_FIELD |= {"deepseek": "reasoning_content", "vllm": "reasoning_content"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeQuirks:
    requests: list[Received] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)  # each answer's bytes, in order

    def app(self) -> Starlette:
        route = Route("/{vendor}/{rest:path}", self._chat, methods=["POST"])
        return Starlette(routes=[route])

    async def _chat(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(Received(request.url.path, dict(request.headers), body))
        vendor = request.path_params["vendor"]
        if not request.url.path.endswith("/chat/completions"):
            return Response(b'{"error": {"message": "no such route"}}', 404)
        if body.get("stream"):
            events = self.events(vendor, body["model"])
            self.sent.append(b"".join(events))
            return StreamingResponse(iter(events), media_type="text/event-stream")
        answer = orjson.dumps(self.completion(vendor, body["model"]))
        self.sent.append(answer)
        return Response(answer, media_type="application/json")

    def completion(self, vendor: str, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": f"Hi from {vendor}."}
        if vendor in REASONING_FIELD:
            message[REASONING_FIELD[vendor]] = "Thinking it over."
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{vendor}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": USAGE,
        }
        if vendor == "perplexity":
            answer |= {"citations": CITATIONS, "search_results": SEARCH_RESULTS}
        if vendor == "ollama":
            del answer["id"]
        return answer

    def events(self, vendor: str, model: str) -> list[bytes]:
        comment = b": OPENROUTER PROCESSING\n\n" if vendor == "openrouter" else b""
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if vendor in REASONING_FIELD:
            deltas.append({REASONING_FIELD[vendor]: "Thinking it over.", "content": None})
        deltas += [{"content": "Hi from "}, {"content": f"{vendor}."}]
        events = [comment]
        for i, delta in enumerate(deltas):
            chunk = self._chunk(
                vendor, model, [{"index": 0, "delta": delta, "finish_reason": None}]
            )
            if vendor == "groq" and i == 0:
                chunk["x_groq"] = {"id": "req_01"}
            events += [_event(chunk), comment]
        last = self._chunk(vendor, model, [{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if vendor == "groq":
            last["x_groq"] = {"id": "req_01", "usage": USAGE}
        if vendor == "mistral":
            last["usage"] = USAGE  # usage on the last choice chunk
        events.append(_event(last))
        if vendor != "mistral":  # usage alone in a final chunk with empty choices
            events.append(_event({**self._chunk(vendor, model, []), "usage": USAGE}))
        events.append(b"data: [DONE]\n\n")
        return [e for e in events if e]

    def _chunk(self, vendor: str, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": f"chatcmpl-{vendor}",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": choices,
        }
        if vendor == "perplexity":
            chunk |= {"citations": CITATIONS, "search_results": SEARCH_RESULTS}
        if vendor == "openrouter":
            chunk["provider"] = "Anthropic"
        if vendor == "ollama":
            del chunk["id"]
        return chunk


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
