"""An entry back on the wire, with a fresh id and `created` per answer: as a
chat.completion body, or as a well-formed chunk stream ending in [DONE] (the usage chunk
only if the client asked for it, as OpenAI streams do)."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.cache.entry import Entry
from proxy.sse import DONE, encode_chunks


def completion_body(entry: Entry, response_id: str, created: int) -> bytes:
    return orjson.dumps({"id": response_id, "created": created, **entry.completion})


def stream_body(entry: Entry, response_id: str, created: int, include_usage: bool) -> bytes:
    c = entry.completion
    head: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": c.get("model"),
    }
    if "system_fingerprint" in c:
        head["system_fingerprint"] = c["system_fingerprint"]
    chunks: list[dict[str, object]] = []
    for choice in c["choices"]:
        index, message = choice.get("index", 0), choice["message"]
        for delta in _deltas(message):
            chunks.append({**head, "choices": [_choice(index, delta, None)]})
        chunks.append({**head, "choices": [_choice(index, {}, choice["finish_reason"])]})
    if include_usage and "usage" in c:
        chunks.append({**head, "choices": [], "usage": c["usage"]})
    return encode_chunks(chunks) + DONE


def _deltas(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message as deltas: role and content first, then each tool call whole."""
    first: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("refusal"):
        first["refusal"] = message["refusal"]
    deltas = [first]
    for index, call in enumerate(message.get("tool_calls") or ()):
        deltas.append({"tool_calls": [{"index": index, **call}]})
    return deltas


def _choice(index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
