"""proxy/providers/anthropic/messages.py: messages and content parts, and their 400s."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.errors import ProxyError
from proxy.providers.anthropic import to_anthropic_request
from proxy.providers.anthropic.request import RequestOptions
from tests.providers.anthropic.golden import CTX, rejected, translate


def user_content(*parts: Any) -> list[Any]:
    return translate(messages=[{"role": "user", "content": list(parts)}])["messages"][0]["content"]


def test_pdf_file_part_becomes_a_document() -> None:
    part = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
    }
    assert user_content(part) == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        }
    ]
    with pytest.raises(ProxyError) as info:
        user_content({"type": "file", "file": {"file_id": "file-abc"}})
    assert info.value.code == "unsupported_parameter"


@pytest.mark.parametrize(
    "url",
    [
        "data:image/tiff;base64,AAAA",
        "data:image/png,rawbytes",
        "data:image/png;base64,",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
    ],
)
def test_bad_image_urls_are_a_400(url: str) -> None:
    with pytest.raises(ProxyError) as info:
        user_content({"type": "image_url", "image_url": {"url": url}})
    assert info.value.status == 400
    assert info.value.param == "messages[0].content[0].image_url.url"


def test_image_data_url_with_extra_parameters() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/jpeg;name=a.jpg;base64,/9j/"}}
    assert user_content(part)[0]["source"] == {
        "type": "base64",
        "media_type": "image/jpeg",
        "data": "/9j/",
    }


def test_input_audio_part() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}
    with pytest.raises(ProxyError) as info:
        user_content(part)
    assert info.value.param == "messages[0].content[0].input_audio"
    body = to_anthropic_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, part]}],
        },
        CTX,
        RequestOptions("claude", drop_unsupported=True),
    )
    assert body["messages"][0]["content"] == [{"type": "text", "text": "x"}]


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "function", "name": "f", "content": "x"}, "messages[1].role"),
        ({"role": "tool", "content": "x"}, "messages[1].tool_call_id"),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{bad"}}
                ],
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                ],
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            "messages[1].content[0].type",
        ),
        ({"role": "user", "content": [{"type": "video"}]}, "messages[1].content[0].type"),
        ({"role": "user", "content": ["plain string part"]}, "messages[1].content[0]"),
    ],
)
def test_bad_messages_are_a_400(message: dict[str, Any], param: str) -> None:
    error = rejected(messages=[{"role": "user", "content": "Hi"}, message])
    assert error.param == param


def test_empty_arguments_and_empty_messages() -> None:
    body = translate(
        messages=[
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": ""},
            {"role": "user", "content": ""},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        ]
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "No."}]},
    ]
