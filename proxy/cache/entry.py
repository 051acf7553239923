"""A cached answer: what a complete, successful chat answer leaves behind, as bytes.

An entry holds the answer's content without its id and `created` (those are fresh on every
replay): choices (message, finish_reason), usage, model, system_fingerprint, plus when it
was stored and what it cost. It is built from a chat.completion body or from a whole
client stream; either way only when every choice finished with stop, length or
tool_calls (never an error, a cut stream or a content filter). Decoding is strict: a
corrupt entry is None (a miss), never an exception on the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from proxy.providers.base import Usage

STORABLE_FINISH = frozenset({"stop", "length", "tool_calls"})
VERSION = 1


@dataclass(frozen=True, slots=True)
class Entry:
    completion: dict[str, Any]  # a chat.completion without id and created
    stored_at: float  # unix seconds
    cost_usd: float  # what the answer cost upstream (0 without a configured price)


def encode(entry: Entry) -> bytes:
    return orjson.dumps(
        {"v": VERSION, "at": entry.stored_at, "cost": entry.cost_usd, "c": entry.completion}
    )


def decode(raw: bytes) -> Entry | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        return None
    completion, at, cost = data.get("c"), data.get("at"), data.get("cost")
    if not isinstance(at, int | float) or not isinstance(cost, int | float):
        return None
    if not isinstance(completion, dict) or not _storable(completion):
        return None
    return Entry(completion, float(at), float(cost))


def from_completion(body: bytes, stored_at: float, cost: float) -> Entry | None:
    """An entry from a chat.completion body, if it is a storable one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not _storable(data):
        return None
    completion = {k: v for k, v in data.items() if k not in ("id", "created")}
    return Entry(completion, stored_at, cost)


def from_stream(sse: bytes, usage: Usage | None, stored_at: float, cost: float) -> Entry | None:
    """An entry assembled from a client stream that ended with [DONE]; None if it did not,
    carried an error, or is not storable."""
    chunks = _chunks(sse)
    if chunks is None:
        return None
    choices: dict[int, _Choice] = {}
    model, fingerprint = None, None
    for chunk in chunks:
        if not isinstance(chunk, dict) or "error" in chunk:
            return None
        model = chunk.get("model", model)
        fingerprint = chunk.get("system_fingerprint", fingerprint)
        for raw in chunk.get("choices") or ():
            index = raw.get("index", 0)
            choices.setdefault(index, _Choice()).feed(raw)
    completion: dict[str, Any] = {
        "object": "chat.completion",
        "model": model,
        "choices": [choices[i].message(i) for i in sorted(choices)],
    }
    if fingerprint is not None:
        completion["system_fingerprint"] = fingerprint
    if usage is not None:
        completion["usage"] = usage_body(usage)
    if not _storable(completion):
        return None
    return Entry(completion, stored_at, cost)


def usage_body(usage: Usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
    }
    if usage.cached:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cached}
    if usage.reasoning:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning}
    return body


class _Choice:
    """One choice's deltas, joined: content, refusal, tool calls by index, finish_reason."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None

    def feed(self, raw: dict[str, Any]) -> None:
        delta = raw.get("delta") or {}
        if isinstance(delta.get("content"), str):
            self.content.append(delta["content"])
        if isinstance(delta.get("refusal"), str):
            self.refusal.append(delta["refusal"])
        for call in delta.get("tool_calls") or ():
            slot = self.tools.setdefault(
                call.get("index", 0),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            slot["id"] = call.get("id") or slot["id"]
            function = call.get("function") or {}
            slot["function"]["name"] += function.get("name") or ""
            slot["function"]["arguments"] += function.get("arguments") or ""
        self.finish = raw.get("finish_reason") or self.finish

    def message(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.content) if self.content or not self.tools else None,
        }
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tools:
            message["tool_calls"] = [self.tools[i] for i in sorted(self.tools)]
        return {"index": index, "message": message, "finish_reason": self.finish}


def _chunks(sse: bytes) -> list[Any] | None:
    """The JSON of each data event, if the stream ended with [DONE] (else None)."""
    text = sse.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in sse else sse
    datas: list[bytes] = []
    for event in text.split(b"\n\n"):
        lines = [ln for ln in event.split(b"\n") if ln.startswith(b"data:")]
        if lines:
            datas.append(b"\n".join(ln[5:].strip() for ln in lines))
    if not datas or datas[-1] != b"[DONE]":
        return None
    try:
        return [orjson.loads(d) for d in datas[:-1]]
    except orjson.JSONDecodeError:
        return None


def _storable(completion: dict[str, Any]) -> bool:
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(
        isinstance(c, dict)
        and c.get("finish_reason") in STORABLE_FINISH
        and isinstance(c.get("message"), dict)
        for c in choices
    )
