"""Golden cases shared by the Gemini tests (tests/fixtures/gemini/<case>/) and small builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from proxy.config import ProviderConfig, Secret
from proxy.providers.base import CallContext
from proxy.providers.gemini import GeminiStreamTranslator
from proxy.providers.gemini.request import RequestOptions
from proxy.providers.pipes import TranslatingPipe
from proxy.sse import DONE, SSEDecoder, SSEEvent

FIXTURES = Path(__file__).parents[2] / "fixtures" / "gemini"
SUCCESS_CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "openai_request.json").exists())
ERROR_CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "gemini_error.json").exists())
CTX = CallContext(
    public_model="flash",
    upstream_model="gemini-2.5-flash",
    response_id="chatcmpl-gemini-test-0001",
    created=1700000000,
    include_usage=True,
)
KEY = "AIzaSyD-fake-gemini-key-0123456789abcdef"
OPTIONS = RequestOptions(provider="gem")


def load(case: str, name: str) -> Any:
    return json.loads((FIXTURES / case / name).read_text(encoding="utf-8"))


def sse_bytes(case: str) -> bytes:
    return (FIXTURES / case / "gemini_response.sse").read_bytes()


def provider_config(**overrides: Any) -> ProviderConfig:
    settings: dict[str, Any] = {
        "name": "gem",
        "type": "gemini",
        "base_url": "https://generativelanguage.googleapis.com",
        "api_key": Secret(KEY),
    }
    settings.update(overrides)
    return ProviderConfig(**settings)


def decode_chunks(raw: bytes) -> list[Any]:
    assert raw.endswith(DONE)
    events = SSEDecoder().feed(raw[: -len(DONE)])
    return [e.json() for e in events]


def run_pipe(raw: bytes, splits: list[int] | None = None, ctx: CallContext = CTX) -> bytes:
    pipe = TranslatingPipe(GeminiStreamTranslator(ctx, "gem"), "gem")
    out = b""
    start = 0
    for size in splits or [len(raw)]:
        out += pipe.feed(raw[start : start + size])
        start += size
    out += pipe.feed(raw[start:])
    return out + pipe.finish()


def stream_chunks(events: list[dict[str, Any]], ctx: CallContext = CTX) -> list[Any]:
    translator = GeminiStreamTranslator(ctx, "gem")
    chunks: list[Any] = []
    for event in events:
        chunks.extend(translator.feed(SSEEvent(orjson.dumps(event).decode())))
    return chunks + translator.finish()


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "flash", "messages": [{"role": "user", "content": "hi"}], **fields}


def aggregate(chunks: list[Any]) -> tuple[dict[int, dict[str, Any]], Any]:
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            state = choices.setdefault(
                choice["index"], {"content": "", "reasoning": "", "tools": {}, "finish": []}
            )
            delta = choice["delta"]
            state["content"] += delta.get("content") or ""
            state["reasoning"] += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or ():
                slot = state["tools"].setdefault(call["index"], {"arguments": ""})
                slot.update({k: call[k] for k in ("id", "type") if k in call})
                slot["name"] = call["function"].get("name") or slot.get("name")
                slot["arguments"] += call["function"].get("arguments") or ""
            if choice["finish_reason"] is not None:
                state["finish"].append(choice["finish_reason"])
    return choices, usage
