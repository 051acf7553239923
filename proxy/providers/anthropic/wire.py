"""Anthropic Messages API wire shapes (requests we send) and the names both directions share.

Field names follow the `anthropic` SDK's own type modules (`anthropic.types.*Param`), which
are generated from Anthropic's API definition: https://docs.anthropic.com/en/api/messages
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Required, TypedDict

# The forced tool that carries a `response_format` answer (see the package docstring). A client
# tool may not use this name; the response side recognises the answer by it, so translation
# needs no per-request state.
JSON_TOOL_NAME = "respond_with_json"

# https://docs.anthropic.com/en/docs/build-with-claude/vision: the accepted image types.
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DOCUMENT_MEDIA_TYPES = frozenset({"application/pdf"})


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class Base64Source(TypedDict):
    type: Literal["base64"]
    media_type: str
    data: str


class URLSource(TypedDict):
    type: Literal["url"]
    url: str


class ImageBlock(TypedDict):
    type: Literal["image"]
    source: Base64Source | URLSource


class DocumentBlock(TypedDict):
    type: Literal["document"]
    source: Base64Source


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(TypedDict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: NotRequired[str | list[TextBlock | ImageBlock]]


class ThinkingBlock(TypedDict):
    """Sent back exactly as Claude wrote it: the signature covers the text."""

    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(TypedDict):
    type: Literal["redacted_thinking"]
    data: str


ReasoningBlock = ThinkingBlock | RedactedThinkingBlock
ContentBlock = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
)


class MessageParam(TypedDict):
    role: Literal["user", "assistant"]
    content: list[ContentBlock]


class ToolParam(TypedDict):
    name: str
    input_schema: dict[str, Any]
    description: NotRequired[str]


class ToolChoice(TypedDict, total=False):
    type: Required[Literal["auto", "any", "tool", "none"]]
    name: str
    disable_parallel_tool_use: bool


class ThinkingConfig(TypedDict):
    type: Literal["enabled"]
    budget_tokens: int


class Metadata(TypedDict):
    user_id: str


class AnthropicRequest(TypedDict, total=False):
    model: Required[str]
    max_tokens: Required[int]
    messages: Required[list[MessageParam]]
    system: list[TextBlock]
    metadata: Metadata
    stop_sequences: list[str]
    stream: bool
    temperature: float
    top_p: float
    thinking: ThinkingConfig
    tools: list[ToolParam]
    tool_choice: ToolChoice
