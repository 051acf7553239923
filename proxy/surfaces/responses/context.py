"""What one Responses request fixes for its answer: ids, echoed parameters, tool names.

The Response object repeats the request's parameters (`instructions`, `tools`, `tool_choice`,
`text`, `reasoning`, ...: openai.types.responses.Response), so they are kept here once, at
request translation, and both the non-stream and the stream translators read them. Ids are
handed in by the caller (no clock, no randomness in translation); item ids derive from the
response id, so a stream and its non-stream twin name their items alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class ResponseContext:
    response_id: str  # "resp_..."
    created_at: int  # unix seconds
    model: str  # the public model name the client asked for
    # Request parameters the Response object echoes, already defaulted as OpenAI does.
    echo: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # Flattened chat tool name -> (namespace, function name), for namespaced tools only.
    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    summary: bool = False  # reasoning.summary was asked for: reasoning text -> summary_text
    encrypted: bool = False  # include has "reasoning.encrypted_content"

    def item_id(self, prefix: str, index: int) -> str:
        """A deterministic item id: `msg_<response id tail>_<n>` and alike."""
        tail = self.response_id.removeprefix("resp_")
        return f"{prefix}_{tail}_{index}"
