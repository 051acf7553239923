"""The golden Anthropic fixtures (tests/fixtures/anthropic/<case>/) for the tests in this folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proxy.providers.anthropic import AnthropicStreamTranslator
from proxy.providers.base import CallContext
from proxy.sse import SSEDecoder

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "anthropic"
CASES = sorted(p.name for p in FIXTURES.iterdir() if not p.name.startswith("error_"))
CTX = CallContext("smart", "claude-sonnet-4-5", "chatcmpl-anthropic-test", 1750000000, False)


def load(case: str, name: str) -> Any:
    return json.loads((FIXTURES / case / name).read_text())


def stream_chunks(case: str, ctx: CallContext = CTX) -> list[dict[str, Any]]:
    """The case's Anthropic SSE transcript through the stream translator."""
    translator = AnthropicStreamTranslator(ctx, "claude")
    decoder = SSEDecoder()
    data = (FIXTURES / case / "anthropic_response.sse").read_bytes()
    chunks: list[dict[str, Any]] = []
    for event in decoder.feed(data) + decoder.flush():
        chunks.extend(translator.feed(event))
    return chunks + translator.finish()
