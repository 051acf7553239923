"""proxy/surfaces/responses/reasoning.py: thinking blocks in and out of `encrypted_content`."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from proxy.surfaces.responses.reasoning import PREFIX, decode_block, encode_block, summary_text

BLOCKS = [
    {"type": "thinking", "thinking": "Let me think.\n", "signature": "EqQBCkYIBxgC+/="},
    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
]


@pytest.mark.parametrize("block", BLOCKS)
def test_round_trip_is_byte_exact(block: dict[str, Any]) -> None:
    content = encode_block({**block, "index": 3})  # a stream entry's index is not carried
    assert content.startswith(PREFIX)
    assert decode_block(content) == block


def _ours(raw: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(raw).decode()


NOT_OURS: list[Any] = [
    None,
    7,
    "gAAAAABo-openai-ciphertext",
    PREFIX + "!!! not base64 !!!",
    _ours(b"not json"),
    _ours(b"[1, 2]"),
    _ours(b'{"type": "reasoning.summary", "text": "x"}'),
    _ours(b"[" * 5000),
]


@pytest.mark.parametrize("content", NOT_OURS)
def test_content_we_did_not_write_is_none(content: Any) -> None:
    assert decode_block(content) is None


def test_summary_text() -> None:
    assert summary_text(BLOCKS[0]) == "Let me think.\n"
    assert summary_text(BLOCKS[1]) == ""
