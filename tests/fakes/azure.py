"""A fake Azure OpenAI upstream: both URL schemes, Azure's auth headers and its
content-filter annotations, checked with the `openai` SDK's AzureOpenAI client
(tests/e2e/test_azure_fake_sdk.py).

    POST /openai/deployments/{deployment}/chat/completions?api-version=...   (and /embeddings)
    POST /openai/v1/chat/completions                                       (and /embeddings)

Shapes from Azure's reference (https://learn.microsoft.com/azure/ai-foundry/openai/reference,
"content filtering"): `prompt_filter_results` on the response (and, streamed, on a first
chunk with empty `choices`, `id` and `model`), `content_filter_results` on every choice,
and the 400 `content_filter` error with its `innererror`. `mode = "filtered"` answers that
400; `status` forces another error. Every request is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

SAFE = {
    kind: {"filtered": False, "severity": "safe"}
    for kind in ("hate", "self_harm", "sexual", "violence")
}
PROMPT_FILTER_RESULTS = [{"prompt_index": 0, "content_filter_results": SAFE}]
JSON = "application/json"


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAzure:
    api_key: str = "azure-key-123"
    entra_token: str = "entra-token-456"
    api_versions: tuple[str, ...] = ("2024-10-21", "2025-04-01-preview")
    mode: str = "ok"
    status: int = 200
    content: str = "Hello from fake Azure."
    requests: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/openai/deployments/{deployment}/{op:path}", self._deployment, methods=["POST"]
                ),
                Route("/openai/v1/{op:path}", self._v1, methods=["POST"]),
            ]
        )

    async def _deployment(self, request: Request) -> Response:
        version = request.query_params.get("api-version")
        if version not in self.api_versions:
            # Azure's answer to a missing or unknown api-version.
            return _error(404, "404", "Resource not found")
        return await self._serve(request, request.path_params["deployment"])

    async def _v1(self, request: Request) -> Response:
        # The v1 surface takes no api-version (older previews sent `preview`).
        if request.query_params.get("api-version") not in (None, "preview"):
            return _error(400, "BadRequest", "API version not supported")
        return await self._serve(request, None)

    async def _serve(self, request: Request, deployment: str | None) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(
            Received(request.url.path, dict(request.query_params), dict(request.headers), body)
        )
        if not self._authorised(request):
            return _error(
                401,
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource.",
            )
        if self.status != 200:
            return _error(self.status, str(self.status), f"fake Azure error {self.status}")
        model = deployment or body.get("model")
        op = request.path_params["op"]
        if op == "embeddings":
            return _json(_embeddings(body, str(model)))
        if op != "chat/completions":
            return _error(404, "404", "Resource not found")
        if self.mode == "filtered":
            return _content_filter_error()
        if body.get("stream"):
            return StreamingResponse(self._events(str(model)), media_type="text/event-stream")
        return _json(self.completion(str(model)))

    def _authorised(self, request: Request) -> bool:
        if request.headers.get("api-key") == self.api_key:
            return True
        return request.headers.get("authorization") == f"Bearer {self.entra_token}"

    def completion(self, model: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-azure",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_azure",
            "prompt_filter_results": PROMPT_FILTER_RESULTS,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "content_filter_results": SAFE,
                    "message": {"role": "assistant", "content": self.content, "refusal": None},
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        }

    async def _events(self, model: str) -> Any:
        # Azure's first streamed chunk carries only the prompt's filter results.
        yield _event(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": PROMPT_FILTER_RESULTS,
            }
        )
        for i, piece in enumerate(["Hello", " from", " Azure."]):
            delta = {"content": piece, **({"role": "assistant"} if i == 0 else {})}
            yield _event(_chunk(delta, None, SAFE))
        yield _event(_chunk({}, "stop", {}))
        yield b"data: [DONE]\n\n"


def _chunk(delta: dict[str, Any], finish: str | None, filters: dict[str, Any]) -> dict[str, Any]:
    choice = {
        "index": 0,
        "delta": delta,
        "finish_reason": finish,
        "logprobs": None,
        "content_filter_results": filters,
    }
    return {
        "id": "chatcmpl-azure",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_azure",
        "choices": [choice],
    }


def _embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    raw = body["input"]
    inputs = [raw] if isinstance(raw, str) else raw
    data = [
        {"object": "embedding", "index": i, "embedding": [float(len(text)), 0.5]}
        for i, text in enumerate(inputs)
    ]
    usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def _content_filter_error() -> Response:
    filters = {**SAFE, "violence": {"filtered": True, "severity": "high"}}
    error = {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
        "content management policy.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": filters,
        },
    }
    return Response(orjson.dumps({"error": error}), 400, media_type=JSON)


def _error(status: int, code: str, message: str) -> Response:
    return Response(
        orjson.dumps({"error": {"code": code, "message": message}}), status, media_type=JSON
    )


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=JSON)


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
