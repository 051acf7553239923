"""A fake Gemini API upstream speaking the real wire format, for end-to-end tests.

Endpoints (as generativelanguage.googleapis.com; /v1 and /v1alpha are served alike):
    POST /v1beta/models/{model}:generateContent                  -> GenerateContentResponse JSON
    POST /v1beta/models/{model}:streamGenerateContent?alt=sse    -> `data: {...}\\r\\n\\r\\n` events

Authentication: the key must be in the `x-goog-api-key` header. A missing header is answered
403 PERMISSION_DENIED, a wrong key 400 INVALID_ARGUMENT with ErrorInfo reason
API_KEY_INVALID (as Gemini does); a key in the URL (`?key=`) is not accepted at all.

Like Gemini, the fake is strict about the request: unknown fields, empty text parts, empty
`contents` and Gemini-3 function calls replayed without their thought signature are 400s.

Scenario: chosen per request by a marker `[scenario:NAME]` in the last user text; without
one the answer is `text`. A request whose last content holds functionResponse parts gets
`tool_result` (a text that echoes the function results). Scenarios:

    text         "Hello from fake Gemini." (candidateCount candidates when asked)
    image        "I see N image(s)." counting inlineData/fileData parts of the last user turn
    tools        one functionCall to the first declared function, with a thoughtSignature
    parallel     two functionCalls (the first declared function twice); only the first
                 carries a thoughtSignature, as Gemini 3 does
    json         a JSON text built from generationConfig.responseJsonSchema
    thinking     a thought part, then the answer; thoughtsTokenCount in usage
    max_tokens   a cut answer with finishReason MAX_TOKENS
    safety       finishReason SAFETY and no content
    blocked      promptFeedback.blockReason SAFETY and no candidates
    truncated    (stream) content but no finishReason before the body ends
    stream_error (stream) one content event, then an in-stream error object
    error_400, error_403, error_404, error_429, error_500, error_503, error_504
                 that HTTP status with Gemini's error body (429 carries RetryInfo 7s)

Every request is recorded in `requests` (url, path, query, headers, parsed body).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

API_VERSIONS = ("v1beta", "v1", "v1alpha")
SCENARIO = re.compile(r"\[scenario:([a-z0-9_]+)\]")
TEXT = "Hello from fake Gemini."

ERRORS: dict[str, tuple[int, str, str]] = {
    "error_400": (
        400,
        "INVALID_ARGUMENT",
        "* GenerateContentRequest.contents[0].parts: the fake rejects this request",
    ),
    "error_403": (
        403,
        "PERMISSION_DENIED",
        "Permission denied: Consumer 'api_key:***' has been suspended.",
    ),
    "error_404": (
        404,
        "NOT_FOUND",
        "models/gemini-0 is not found for API version v1beta, or is not supported for generateContent.",
    ),
    "error_429": (
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "error_500": (
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    ),
    "error_503": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "error_504": (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}

_TOP_LEVEL = {
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
}
_GENERATION_CONFIG = {
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
    "responseModalities",
    "mediaResolution",
    "speechConfig",
}
_PART = {
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "thought",
    "thoughtSignature",
    "executableCode",
    "codeExecutionResult",
    "videoMetadata",
}


class BadRequest(Exception):
    pass


@dataclass
class Received:
    url: str
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeGemini:
    api_key: str = "fake-gemini-key"
    requests: list[Received] = field(default_factory=list)
    issued_signatures: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{version}/models/{target:path}", self._generate, methods=["POST"])]
        )

    @property
    def last(self) -> Received:
        return self.requests[-1]

    async def _generate(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {}
        self.requests.append(
            Received(
                str(request.url), request.url.path, request.url.query, dict(request.headers), body
            )
        )
        model, _, method = request.path_params["target"].partition(":")
        stream = method == "streamGenerateContent"
        if (
            request.path_params["version"] not in API_VERSIONS
            or method not in ("generateContent", "streamGenerateContent")
            or (stream and request.query_params.get("alt") != "sse")
        ):
            return _error(404, "NOT_FOUND", f"Method {method!r} is not served by the fake.")
        key = request.headers.get("x-goog-api-key")
        if key is None:
            return _error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            )
        if key != self.api_key:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                reason="API_KEY_INVALID",
            )
        try:
            _validate(body)
            self._check_signatures(model, body)
        except BadRequest as exc:
            return _error(400, "INVALID_ARGUMENT", str(exc))
        scenario = _scenario(body)
        if scenario in ERRORS:
            status, gstatus, message = ERRORS[scenario]
            return _error(status, gstatus, message, retry_delay="7s" if status == 429 else None)
        events = self._answer(scenario, model, body)
        if not stream:
            return Response(orjson.dumps(_merge(events)), media_type="application/json")
        return StreamingResponse(_sse(events, scenario), media_type="text/event-stream")

    # --- answers -----------------------------------------------------------------------

    def _answer(self, scenario: str, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The answer as stream events; non-stream merges them into one response."""
        config = body.get("generationConfig") or {}
        if scenario == "blocked":
            return [{"promptFeedback": {"blockReason": "SAFETY"}, **_meta(model, 0, 0)}]
        if scenario == "safety":
            return [{"candidates": [{"finishReason": "SAFETY", "index": 0}], **_meta(model, 0, 0)}]
        if scenario in ("tools", "parallel"):
            return self._function_calls(model, _first_function(body), scenario == "parallel")
        if scenario == "thinking":
            return [
                _text_event(model, "Let me think about this.", thought=True),
                _text_event(model, "The answer is 42.", finish="STOP", tokens=6, thoughts=25),
            ]
        if scenario == "json":
            schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
            text = orjson.dumps(_example(schema, schema)).decode()
            return [
                _text_event(model, text[: len(text) // 2]),
                _text_event(model, text[len(text) // 2 :], finish="STOP", tokens=20),
            ]
        if scenario == "max_tokens":
            return [
                _text_event(model, "Once upon a"),
                _text_event(model, " time", finish="MAX_TOKENS", tokens=4),
            ]
        if scenario == "tool_result":
            return [
                _text_event(model, "Tool said: " + _function_results(body), finish="STOP", tokens=9)
            ]
        if scenario == "image":
            return [
                _text_event(model, f"I see {_count_media(body)} image(s).", finish="STOP", tokens=5)
            ]
        count = config.get("candidateCount") or 1
        first = _candidates(["Hello from"] * count)
        last = _candidates([" fake Gemini."] * count, finish="STOP")
        return [{**first, **_meta(model, 0, 0)}, {**last, **_meta(model, 5 * count, 0)}]

    def _function_calls(self, model: str, name: str, parallel: bool) -> list[dict[str, Any]]:
        """Each call whole in its own event, then an empty text part with the finishReason
        (how Gemini streams function calls); only the first call is signed."""
        signed: dict[str, Any] = {"functionCall": {"name": name, "args": {"city": "Paris"}}}
        signed["thoughtSignature"] = self._signature()
        calls = [signed]
        if parallel:
            calls.append({"functionCall": {"name": name, "args": {"city": "Tokyo"}}})
        events = [{**_candidates([[call]]), **_meta(model, 0, 0)} for call in calls]
        events.append({**_candidates([[{"text": ""}]], finish="STOP"), **_meta(model, 12, 0)})
        return events

    def _signature(self) -> str:
        raw = f"fake-signature-{len(self.issued_signatures)}-\xff\xfe".encode("latin-1")
        signature = base64.b64encode(raw).decode()
        self.issued_signatures.append(signature)
        return signature

    def _check_signatures(self, model: str, body: dict[str, Any]) -> None:
        """Gemini 3: the first functionCall of each model step of the current turn needs its
        signature (https://ai.google.dev/gemini-api/docs/thought-signatures)."""
        if not model.startswith("gemini-3"):
            return
        issued = {_signature_bytes(s) for s in self.issued_signatures}
        contents = body.get("contents") or []
        start = 0
        for i, content in enumerate(contents):
            if content.get("role") == "user" and any("text" in p for p in content.get("parts", [])):
                start = i  # the current turn starts at the last user text
        for position, content in enumerate(contents[start:], start):
            calls = [p for p in content.get("parts", []) if "functionCall" in p]
            signed = calls and _signature_bytes(calls[0].get("thoughtSignature")) in issued
            if content.get("role") == "model" and calls and not signed:
                raise BadRequest(
                    f"Function call `{calls[0]['functionCall'].get('name')}` in the "
                    f"{position + 1}. content block is missing a `thought_signature`."
                )


# --- helpers ---------------------------------------------------------------------------------


def _signature_bytes(signature: Any) -> bytes | None:
    """Signatures are protobuf `bytes`: JSON spells them in either base64 alphabet (the
    google-genai SDK sends back the URL-safe one), so they are compared decoded."""
    if not isinstance(signature, str):
        return None
    try:
        return base64.b64decode(signature.translate(str.maketrans("-_", "+/")), validate=True)
    except ValueError:
        return None


def _meta(model: str, candidates: int, thoughts: int) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": 11, "totalTokenCount": 11 + candidates + thoughts}
    if candidates:
        usage["candidatesTokenCount"] = candidates
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {"usageMetadata": usage, "modelVersion": model, "responseId": "fake-response-id"}


def _text_event(
    model: str,
    text: str,
    *,
    thought: bool = False,
    finish: str | None = None,
    tokens: int = 0,
    thoughts: int = 0,
) -> dict[str, Any]:
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}}
    if finish:
        candidate["finishReason"] = finish
        candidate["index"] = 0
    return {"candidates": [candidate], **_meta(model, tokens, thoughts)}


def _candidates(parts_or_texts: list[Any], finish: str | None = None) -> dict[str, Any]:
    """A `candidates` list, one candidate per item (a text, or a list of parts)."""
    candidates = []
    for index, item in enumerate(parts_or_texts):
        parts = [{"text": item}] if isinstance(item, str) else item
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish:
            candidate["finishReason"] = finish
        if index or finish:
            candidate["index"] = index
        candidates.append(candidate)
    return {"candidates": candidates}


def _merge(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-stream response: every candidate's parts joined, the last usage kept."""
    merged: dict[str, Any] = {k: v for k, v in events[-1].items() if k != "candidates"}
    by_index: dict[int, dict[str, Any]] = {}
    for event in events:
        for candidate in event.get("candidates", []):
            index = candidate.get("index", 0)
            slot = by_index.setdefault(
                index, {"content": {"role": "model", "parts": []}, "index": index}
            )
            slot["content"]["parts"].extend(
                p for p in candidate.get("content", {}).get("parts", []) if p != {"text": ""}
            )
            if "finishReason" in candidate:
                slot["finishReason"] = candidate["finishReason"]
    if by_index:
        merged["candidates"] = [by_index[i] for i in sorted(by_index)]
        for candidate in merged["candidates"]:
            if not candidate["content"]["parts"]:
                del candidate["content"]  # as Gemini does for a SAFETY stop
            if candidate["index"] == 0:
                del candidate["index"]  # proto3 JSON leaves default values out
    return merged


async def _sse(events: list[dict[str, Any]], scenario: str) -> AsyncIterator[bytes]:
    if scenario == "truncated":
        events = [
            {
                **events[0],
                "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}}],
            }
        ]
    for event in events:
        yield b"data: " + orjson.dumps(event) + b"\r\n\r\n"
        if scenario == "stream_error":
            await asyncio.sleep(0.2)  # after the proxy committed the stream to its client
            error = {
                "error": {
                    "code": 503,
                    "message": "The model is overloaded.",
                    "status": "UNAVAILABLE",
                }
            }
            yield b"data: " + orjson.dumps(error) + b"\r\n\r\n"
            return


def _error(
    status: int,
    gstatus: str,
    message: str,
    *,
    reason: str | None = None,
    retry_delay: str | None = None,
) -> Response:
    details: list[dict[str, Any]] = []
    if reason:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        )
    if retry_delay:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        )
    error: dict[str, Any] = {"code": status, "message": message, "status": gstatus}
    if details:
        error["details"] = details
    return Response(
        orjson.dumps({"error": error}), status_code=status, media_type="application/json"
    )


def _validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON payload received.")
    for key in body:
        if key not in _TOP_LEVEL:
            raise BadRequest(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    for key in body.get("generationConfig") or {}:
        if key not in _GENERATION_CONFIG:
            raise BadRequest(
                f"Invalid JSON payload received. Unknown name \"{key}\" at 'generation_config': Cannot find field."
            )
    contents = body.get("contents")
    if not contents:
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
    for content in [*contents, body.get("systemInstruction") or {"parts": [{"text": "-"}]}]:
        if content.get("role", "user") not in ("user", "model"):
            raise BadRequest(f"Please use a valid role: user, model. Got {content.get('role')!r}.")
        if not content.get("parts"):
            raise BadRequest(
                "* GenerateContentRequest.contents.parts: contents.parts must not be empty."
            )
        for part in content["parts"]:
            for key in part:
                if key not in _PART:
                    raise BadRequest(
                        f"Invalid JSON payload received. Unknown name \"{key}\" at 'contents.parts': Cannot find field."
                    )
            if part.get("text") == "":
                raise BadRequest("Unable to submit request because it has an empty text parameter.")


def _last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body.get("contents") or []):
        if content.get("role", "user") == "user":
            texts = [p["text"] for p in content.get("parts", []) if "text" in p]
            if texts:
                return "".join(texts)
    return ""


def _scenario(body: dict[str, Any]) -> str:
    contents = body.get("contents") or []
    if contents and any("functionResponse" in p for p in contents[-1].get("parts", [])):
        return "tool_result"
    match = SCENARIO.search(_last_user_text(body))
    return match.group(1) if match else "text"


def _first_function(body: dict[str, Any]) -> str:
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            return str(declaration["name"])
    return "get_weather"


def _function_results(body: dict[str, Any]) -> str:
    parts = body["contents"][-1]["parts"]
    return "; ".join(
        f"{p['functionResponse']['name']}={orjson.dumps(p['functionResponse']['response']).decode()}"
        for p in parts
        if "functionResponse" in p
    )


def _count_media(body: dict[str, Any]) -> int:
    parts = body["contents"][-1]["parts"]
    return sum(1 for p in parts if "inlineData" in p or "fileData" in p)


def _example(schema: Any, root: Any) -> Any:
    """A value that satisfies a (simple) JSON schema: what a constrained model would write."""
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example((root.get("$defs") or root.get("definitions") or {}).get(name, {}), root)
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _example(options[0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower()
    if kind == "object" or "properties" in schema:
        return {name: _example(sub, root) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_example(schema.get("items") or {}, root)]
    return {"string": "example", "integer": 42, "number": 1.5, "boolean": True}.get(kind)
