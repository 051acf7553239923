"""Gemini REST wire shapes that the adapter writes (camelCase, as the REST JSON spells them).

Field names follow `google.genai.types` (Part, FunctionCall, GenerationConfig, ...) in
their REST spelling. Responses are read defensively as plain dicts instead: they come from
the network and are validated field by field in response.py.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

GeminiRole = Literal["user", "model"]
OpenAIFinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class Blob(TypedDict):
    mimeType: str
    data: str  # base64


class FileData(TypedDict):
    mimeType: str
    fileUri: str


class FunctionCall(TypedDict):
    name: str
    args: dict[str, Any]


class FunctionResponse(TypedDict):
    name: str
    response: dict[str, Any]


class Part(TypedDict, total=False):
    text: str
    inlineData: Blob
    fileData: FileData
    functionCall: FunctionCall
    functionResponse: FunctionResponse
    thoughtSignature: str  # base64, opaque; see ids.py


class Content(TypedDict):
    role: GeminiRole
    parts: list[Part]


class SystemInstruction(TypedDict):
    parts: list[Part]


class FunctionDeclaration(TypedDict, total=False):
    name: str
    description: str
    parametersJsonSchema: dict[str, Any]


class Tool(TypedDict):
    functionDeclarations: list[FunctionDeclaration]


class FunctionCallingConfig(TypedDict, total=False):
    mode: Literal["AUTO", "ANY", "NONE"]
    allowedFunctionNames: list[str]


class ToolConfig(TypedDict):
    functionCallingConfig: FunctionCallingConfig


class ThinkingConfig(TypedDict, total=False):
    thinkingBudget: int
    thinkingLevel: str
    includeThoughts: bool


class GenerationConfig(TypedDict, total=False):
    temperature: float
    topP: float
    maxOutputTokens: int
    stopSequences: list[str]
    candidateCount: int
    seed: int
    presencePenalty: float
    frequencyPenalty: float
    responseLogprobs: bool
    logprobs: int
    responseMimeType: str
    responseJsonSchema: Any
    thinkingConfig: ThinkingConfig


class GenerateContentRequest(TypedDict, total=False):
    contents: list[Content]
    systemInstruction: SystemInstruction
    tools: list[Tool]
    toolConfig: ToolConfig
    generationConfig: GenerationConfig
