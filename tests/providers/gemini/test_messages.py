"""proxy/providers/gemini/messages.py: messages and content parts -> contents, and their 400s."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.errors import ProxyError
from proxy.providers.gemini import to_gemini_request
from tests.providers.gemini.golden import OPTIONS


def test_message_shapes() -> None:
    request = to_gemini_request(
        {
            "model": "flash",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_audio",
                            "input_audio": {"data": "UklGRg==", "format": "wav"},
                        },
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,JVBERi0=",
                                "filename": "a.pdf",
                            },
                        },
                        {
                            "type": "file",
                            "file": {"file_data": "JVBERi0=", "filename": "notes.txt"},
                        },
                        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.png"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "refusal", "refusal": "No."}],
                    "function_call": {"name": "legacy", "arguments": '{"a": 1}'},
                },
                {"role": "function", "name": "legacy", "content": "done"},
            ],
        }
    )
    assert request["contents"] == [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                {"inlineData": {"mimeType": "text/plain", "data": "JVBERi0="}},
                {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/cat.png"}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {"text": "No."},
                {"functionCall": {"name": "legacy", "args": {"a": 1}}},
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "legacy", "response": {"result": "done"}}}],
        },
    ]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (
            [{"role": "tool", "tool_call_id": "call_unknown", "content": "x"}],
            "messages[0].tool_call_id",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{not json"},
                        }
                    ],
                }
            ],
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "[1]"},
                        }
                    ],
                }
            ],
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [{"role": "user", "content": [{"type": "video", "video": {}}]}],
            "messages[0].content[0].type",
        ),
        (
            [
                {
                    "role": "system",
                    "content": [{"type": "image_url", "image_url": {"url": "http://x"}}],
                }
            ],
            "messages[0].content[0]",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}
                    ],
                }
            ],
            "messages[0].content[0].input_audio.format",
        ),
    ],
)
def test_invalid_messages_are_400(messages: list[Any], param: str) -> None:
    with pytest.raises(ProxyError) as info:
        to_gemini_request({"model": "flash", "messages": messages}, OPTIONS)
    assert info.value.status == 400 and info.value.param == param
