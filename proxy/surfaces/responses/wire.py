"""Responses API wire shapes this surface writes (output items, parts, usage).

Field names follow the openai SDK's own models (openai.types.responses.ResponseOutputMessage,
ResponseOutputText, ResponseOutputRefusal, ResponseFunctionToolCall, ResponseReasoningItem,
ResponseUsage), generated from OpenAI's API definition; the tests validate every shape
written here with those models.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Status = Literal["completed", "incomplete", "failed", "in_progress"]


class OutputText(TypedDict):
    type: Literal["output_text"]
    text: str
    annotations: list[Any]
    logprobs: list[Any]


class Refusal(TypedDict):
    type: Literal["refusal"]
    refusal: str


class MessageItem(TypedDict):
    id: str
    type: Literal["message"]
    status: Status
    role: Literal["assistant"]
    content: list[OutputText | Refusal]


class FunctionCallItem(TypedDict):
    id: str
    type: Literal["function_call"]
    call_id: str
    name: str
    namespace: NotRequired[str]
    arguments: str
    status: Status


class SummaryText(TypedDict):
    type: Literal["summary_text"]
    text: str


class ReasoningItem(TypedDict):
    id: str
    type: Literal["reasoning"]
    summary: list[SummaryText]
    encrypted_content: NotRequired[str]


OutputItem = MessageItem | FunctionCallItem | ReasoningItem


class InputTokensDetails(TypedDict):
    cached_tokens: int
    cache_write_tokens: int


class OutputTokensDetails(TypedDict):
    reasoning_tokens: int


class Usage(TypedDict):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int
