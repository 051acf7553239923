"""Reasoning items <-> Claude's thinking blocks, through `encrypted_content`.

Codex runs with `store: false` and `include: ["reasoning.encrypted_content"]`: it keeps the
reasoning items of each answer and sends them back in the next request's `input`, the only
way reasoning survives a stateless turn (https://platform.openai.com/docs/guides/reasoning).
Anthropic has the same need (thinking blocks go back byte-exact with their signature, see
providers/anthropic/reasoning.py), so a reasoning item carries one thinking or
redacted_thinking block, serialized into `encrypted_content` behind a `pxy1.` prefix. It is
not encrypted: the signature already protects the text. Content of any other origin (a real
OpenAI deployment's ciphertext) has no Chat Completions equivalent and is left out, as
Anthropic itself ignores thinking it did not sign.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

PREFIX = "pxy1."
_KINDS = frozenset({"thinking", "redacted_thinking"})


def encode_block(block: dict[str, Any]) -> str:
    """A thinking block (without its stream `index`) -> `encrypted_content`."""
    clean = {key: value for key, value in block.items() if key != "index"}
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(clean)).decode()


def decode_block(content: Any) -> dict[str, Any] | None:
    """`encrypted_content` -> the thinking block it carries, or None if it is not ours."""
    if not isinstance(content, str) or not content.startswith(PREFIX):
        return None
    try:
        block = orjson.loads(base64.urlsafe_b64decode(content[len(PREFIX) :]))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(block, dict) or block.get("type") not in _KINDS:
        return None
    return block


def summary_text(block: dict[str, Any]) -> str:
    """The readable text of a thinking block ("" for redacted thinking)."""
    text = block.get("thinking")
    return text if isinstance(text, str) else ""
