"""Parse and validate an incoming Anthropic Messages request, once.

Only what the proxy relies on is checked (model, max_tokens, messages and their roles and
content types, stream); everything else is the upstream's to judge on passthrough, and
to_chat.py's on translation. Messages follow Anthropic's own 400s, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from proxy.errors import ProxyError, invalid_request

# Claude Code sometimes sends a mid-conversation system turn (issue 14): accepted here, the
# upstream decides on passthrough; translation makes it a system message.
ROLES = frozenset({"user", "assistant", "system"})


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    body: dict[str, Any]  # the parsed client JSON; never mutated
    raw: bytes  # the client's bytes: forwarded (model replaced) on passthrough
    model: str
    stream: bool
    signed: bool  # an assistant turn carries thinking blocks (signatures)


def parse_messages_request(raw: bytes, count_only: bool = False) -> MessagesRequest:
    """`count_only`: /v1/messages/count_tokens, where max_tokens is not required."""
    body = _load(raw)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _field_error("model", "a non-empty string", model)
    if not count_only:
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise _field_error("max_tokens", "an integer >= 1", max_tokens)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _field_error("stream", "a boolean", stream)
    signed = _check_messages(body.get("messages"))
    return MessagesRequest(body, raw, model, stream and not count_only, signed)


def _load(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(
            f"The request body is not valid JSON: {str(exc)[:120]}", code="invalid_json"
        ) from exc
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    return body


def _check_messages(messages: Any) -> bool:
    """Validate `messages`; True if an assistant turn carries a signed (thinking) block."""
    if not isinstance(messages, list) or not messages:
        raise _field_error("messages", "a non-empty array", messages)
    signed = False
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise _field_error(where, "an object", message)
        if message.get("role") not in ROLES:
            raise invalid_request(
                f"{where}.role: Input should be 'user' or 'assistant'", f"{where}.role"
            )
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _field_error(f"{where}.content", "a string or an array of blocks", content)
        for j, block in enumerate(content):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise _field_error(f"{where}.content.{j}", "a block with a 'type'", block)
            signed = signed or (message["role"] == "assistant" and _is_signed(block))
    return signed


def _is_signed(block: dict[str, Any]) -> bool:
    # A thinking block with an empty signature came from a translated answer (from_chat.py):
    # nobody can verify it, so it binds the conversation to no family.
    kind = block["type"]
    return kind == "redacted_thinking" or (kind == "thinking" and bool(block.get("signature")))


def _field_error(field: str, expected: str, value: Any) -> ProxyError:
    got = "missing" if value is None else f"got {type(value).__name__}"
    return invalid_request(f"{field}: expected {expected} ({got}).", field)
