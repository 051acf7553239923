"""Gemini GenerateContentResponse -> OpenAI chat.completion, and the pieces the stream shares.

- candidates -> choices (by `index`; proto3 JSON omits index 0). Text parts are joined into
  `content`; thought parts (`thought: true`) into `reasoning_content`; functionCall parts
  become `tool_calls` with deterministic ids that carry the part's thoughtSignature (ids.py)
  and JSON-string arguments. Other part kinds (inline images, executable code) have no
  Chat Completions form and are left out.
- finish_reason: `tool_calls` whenever the candidate called a function, whatever Gemini's
  finishReason says (Gemini reports STOP after a function call); otherwise FINISH_REASONS.
- A prompt blocked by `promptFeedback.blockReason` has no candidates: it is answered as
  one choice with empty content and finish_reason content_filter, not an error.
- usage: prompt = promptTokenCount; completion = candidatesTokenCount + thoughtsTokenCount
  (Gemini counts thoughts apart, OpenAI counts reasoning inside completion tokens);
  cached = cachedContentTokenCount; reasoning = thoughtsTokenCount.
- logprobsResult (when responseLogprobs was asked) -> choices[].logprobs.content.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.providers.base import CallContext, OpenAIResponse, Usage
from proxy.providers.gemini.ids import tool_call_id
from proxy.providers.gemini.wire import OpenAIFinishReason

logger = logging.getLogger(__name__)

# https://ai.google.dev/api/generate-content#FinishReason (google.genai.types.FinishReason).
# Values not listed (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, ...)
# are reported as "stop" and logged: the closed OpenAI set has nothing closer.
FINISH_REASONS: dict[str, OpenAIFinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}


class MalformedResponse(ValueError):
    """The upstream JSON does not have the GenerateContentResponse shape."""


def finish_reason(reason: Any, called_function: bool) -> OpenAIFinishReason:
    if called_function:
        return "tool_calls"
    mapped = FINISH_REASONS.get(reason) if isinstance(reason, str) else None
    if mapped is None:
        logger.warning("Gemini finishReason %r has no OpenAI equivalent; reporting 'stop'", reason)
        return "stop"
    return mapped


@dataclass
class CandidateParts:
    """What one candidate (or one stream chunk of it) said, sorted by kind."""

    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)


def read_parts(candidate: dict[str, Any]) -> CandidateParts:
    content = candidate.get("content")
    if content is None:
        return CandidateParts()  # e.g. a SAFETY stop carries no content
    parts = _mapping(content, "candidate.content").get("parts") or []
    if not isinstance(parts, list):
        raise MalformedResponse("candidate.content.parts is not a list")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[tuple[str, dict[str, Any], str | None]] = []
    for part in parts:
        part = _mapping(part, "a content part")
        call = part.get("functionCall")
        if call is not None:
            call = _mapping(call, "functionCall")
            name = call.get("name")
            args = call.get("args") or {}
            if not isinstance(name, str) or not isinstance(args, dict):
                raise MalformedResponse("functionCall without a name or with non-object args")
            signature = part.get("thoughtSignature")
            calls.append((name, args, signature if isinstance(signature, str) else None))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else texts).append(part["text"])
    return CandidateParts("".join(texts), "".join(thoughts), calls)


def openai_tool_call(
    ctx: CallContext, choice: int, index: int, call: tuple[str, dict[str, Any], str | None]
) -> dict[str, Any]:
    name, args, signature = call
    return {
        "id": tool_call_id(ctx.response_id, choice, index, signature),
        "type": "function",
        "function": {"name": name, "arguments": orjson.dumps(args).decode()},
    }


def candidates_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    candidates = payload.get("candidates") or []
    if not isinstance(candidates, list):
        raise MalformedResponse("'candidates' is not a list")
    return [_mapping(c, "a candidate") for c in candidates]


def block_reason(payload: dict[str, Any]) -> str | None:
    feedback = payload.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    return reason if isinstance(reason, str) and reason else None


def from_gemini_response(payload: Any, ctx: CallContext) -> OpenAIResponse:
    """The OpenAI response for a successful Gemini answer; MalformedResponse if it is not one."""
    payload = _mapping(payload, "the response")
    candidates = candidates_of(payload)
    if candidates:
        choices = [_choice(ctx, c, c.get("index", pos)) for pos, c in enumerate(candidates)]
        choices.sort(key=lambda choice: choice["index"])
    else:
        reason = block_reason(payload)
        if reason is None:
            raise MalformedResponse("no candidates and no promptFeedback.blockReason")
        logger.info("Gemini blocked the prompt (%s); answering content_filter", reason)
        choices = [_blocked_choice()]
    return {
        "id": ctx.response_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.public_model,
        "choices": choices,
        "usage": openai_usage(payload.get("usageMetadata")),
    }


def _choice(ctx: CallContext, candidate: dict[str, Any], index: Any) -> dict[str, Any]:
    if not isinstance(index, int) or isinstance(index, bool):
        raise MalformedResponse("candidate.index is not an integer")
    parts = read_parts(candidate)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": parts.text if parts.text or not parts.calls else None,
        "refusal": None,
        "annotations": [],
    }
    if parts.calls:
        message["tool_calls"] = [
            openai_tool_call(ctx, index, i, c) for i, c in enumerate(parts.calls)
        ]
    if parts.reasoning:
        message["reasoning_content"] = parts.reasoning
    return {
        "index": index,
        "message": message,
        "logprobs": openai_logprobs(candidate.get("logprobsResult")),
        "finish_reason": finish_reason(candidate.get("finishReason"), bool(parts.calls)),
    }


def _blocked_choice() -> dict[str, Any]:
    return {
        "index": 0,
        "message": {"role": "assistant", "content": "", "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "content_filter",
    }


# --- usage ---------------------------------------------------------------------------------


def _count(meta: dict[str, Any], key: str) -> int:
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_of(meta: Any) -> Usage | None:
    if not isinstance(meta, dict):
        return None
    thoughts = _count(meta, "thoughtsTokenCount")
    return Usage(
        prompt=_count(meta, "promptTokenCount"),
        completion=_count(meta, "candidatesTokenCount") + thoughts,
        cached=_count(meta, "cachedContentTokenCount"),
        reasoning=thoughts,
    )


def openai_usage(meta: Any) -> dict[str, Any]:
    usage = usage_of(meta) or Usage()
    total = _count(meta, "totalTokenCount") if isinstance(meta, dict) else 0
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": total or usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


# --- logprobs ------------------------------------------------------------------------------


def openai_logprobs(result: Any) -> dict[str, Any] | None:
    """Gemini LogprobsResult -> OpenAI ChoiceLogprobs; None when Gemini sent none."""
    if not isinstance(result, dict):
        return None
    chosen = result.get("chosenCandidates") or []
    top = result.get("topCandidates") or []
    if not isinstance(chosen, list) or not isinstance(top, list):
        raise MalformedResponse("logprobsResult has non-list candidates")
    content = []
    for i, token in enumerate(chosen):
        alternatives = (
            top[i].get("candidates") if i < len(top) and isinstance(top[i], dict) else None
        )
        entry = _token_logprob(token)
        entry["top_logprobs"] = [_token_logprob(alt) for alt in alternatives or ()]
        content.append(entry)
    return {"content": content, "refusal": None}


def _token_logprob(candidate: Any) -> dict[str, Any]:
    candidate = _mapping(candidate, "a logprobs candidate")
    token = candidate.get("token")
    token = token if isinstance(token, str) else ""
    logprob = candidate.get("logProbability")
    return {
        "token": token,
        "logprob": float(logprob) if isinstance(logprob, int | float) else 0.0,
        "bytes": list(token.encode()),
    }


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what} is not a JSON object")
    return value
