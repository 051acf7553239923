"""Tool-call ids: deterministic, and the carrier of Gemini thought signatures.

Gemini 3 returns a `thoughtSignature` on the (first) functionCall part of a step and
rejects the next request with 400 if that signature does not come back on the same part
(https://ai.google.dev/gemini-api/docs/thought-signatures). OpenAI clients are stateless
and only echo what the Chat Completions shape has room for, and the one opaque string they
always echo with a tool call is its id. So the id carries the signature:

    call_<24 hex of sha256(response_id:choice:index)>__thought__<urlsafe base64 signature>

The hash part is derived from CallContext.response_id and indexes (never random), so a
stream and a non-stream answer to the same request name their tool calls identically. The
signature is Gemini's standard base64 re-spelled in the URL-safe alphabet without padding
(ids end up in logs, URLs and client databases); the translation is lossless both ways.
Ids that do not have our shape (written by the client, or by another provider after a
fallback) carry no signature and are used only to match tool results to calls.
"""

from __future__ import annotations

import hashlib

TOOL_CALL_PREFIX = "call_"
SIGNATURE_SEPARATOR = "__thought__"
_HASH_CHARS = 24

_TO_URLSAFE = str.maketrans("+/", "-_")
_FROM_URLSAFE = str.maketrans("-_", "+/")


def tool_call_id(response_id: str, choice: int, index: int, signature: str | None) -> str:
    digest = hashlib.sha256(f"{response_id}:{choice}:{index}".encode()).hexdigest()
    base = TOOL_CALL_PREFIX + digest[:_HASH_CHARS]
    if not signature:
        return base
    return base + SIGNATURE_SEPARATOR + signature.translate(_TO_URLSAFE).rstrip("=")


def split_tool_call_id(call_id: str) -> tuple[str, str | None]:
    """(the id without its signature, the signature in Gemini's base64 or None)."""
    base, separator, carried = call_id.partition(SIGNATURE_SEPARATOR)
    if not separator or not carried or not base.startswith(TOOL_CALL_PREFIX):
        return call_id, None
    signature = carried.translate(_FROM_URLSAFE)
    return base, signature + "=" * (-len(signature) % 4)
