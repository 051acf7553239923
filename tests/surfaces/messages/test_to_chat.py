"""Messages request -> Chat Completions request: golden fixtures, and the 400s naming what
cannot be translated."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.errors import ProxyError
from proxy.surfaces.messages.to_chat import to_chat_request
from tests.surfaces.messages.golden import CASES, load


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    assert to_chat_request(load(case, "messages_request.json")) == load(case, "chat_request.json")


def _base(**extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_base(top_k=5), "top_k"),
        (_base(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools.0.type"),
        (
            _base(messages=[{"role": "user", "content": [{"type": "document", "source": {}}]}]),
            "messages.0.content.0.type",
        ),
        (_base(output_config={"effort": "extreme"}), "output_config.effort"),
        (
            _base(
                messages=[
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ]
            ),
            "messages.0.content.0.source",
        ),
    ],
)
def test_untranslatable_is_a_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ProxyError) as caught:
        to_chat_request(body)
    assert caught.value.status == 400
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("thinking", "config", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4096}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 20000}, None, "high"),
        ({"type": "adaptive"}, None, "medium"),
        ({"type": "adaptive"}, {"effort": "low"}, "low"),  # one control, not two
        ({"type": "disabled"}, {"effort": "high"}, None),
        (None, None, None),
    ],
)
def test_thinking_maps_to_one_reasoning_effort(
    thinking: Any, config: Any, effort: str | None
) -> None:
    body = _base(thinking=thinking, output_config=config)
    assert to_chat_request(body).get("reasoning_effort") == effort


def test_stream_asks_for_usage() -> None:
    chat = to_chat_request(_base(stream=True))
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}


def test_tool_result_images_follow_in_a_user_message() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "text", "text": "a screenshot"}, image],
    }
    chat = to_chat_request(_base(messages=[{"role": "user", "content": [result]}]))
    assert chat["messages"] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "a screenshot"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
        },
    ]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "assistant", "content": [{"type": "tool_use", "name": "x"}]}],  # no id
        [{"role": "user", "content": [{"type": "tool_result", "content": [3]}]}],
        [{"role": "user", "content": [{"type": "image"}]}],
    ],
)
def test_malformed_blocks_are_a_400_not_a_500(messages: list[Any]) -> None:
    with pytest.raises(ProxyError) as caught:
        to_chat_request(_base(messages=messages))
    assert caught.value.status == 400
