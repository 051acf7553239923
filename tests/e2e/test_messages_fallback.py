"""Fallback on /v1/messages: shared with chat, plus the signature rule (issue 14): a
conversation carrying thinking signatures falls back only to a deployment of the same
provider type and model family; the others are skipped as `skipped_incompatible`. And a
failure after the commit ends the stream with Anthropic's `error` event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.conftest import CLIENT_KEY
from tests.fakes.formats import ANTHROPIC, OPENAI
from tests.fakes.scripted import Script, ScriptedUpstream

HEADERS = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
SIGNED = [
    {"role": "user", "content": "Weather?"},
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "use the tool", "signature": "c2lnbmVk"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
        ],
    },
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sun"}],
    },
]
PLAIN = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def three(
    scripted: Callable[..., ScriptedUpstream], start_proxy: Callable[..., str]
) -> tuple[str, ScriptedUpstream, ScriptedUpstream, ScriptedUpstream]:
    """A failing anthropic deployment, then openai, then another anthropic one of the same
    family (a dated snapshot of the same model)."""
    sick = scripted(ANTHROPIC, Script(status=529))
    other = scripted(OPENAI)
    same = scripted(ANTHROPIC)
    config = {
        "providers": {
            "sick": ANTHROPIC.provider(sick.url),
            "other": OPENAI.provider(other.url),
            "same": ANTHROPIC.provider(same.url),
        },
        "models": {
            "smart": [
                {"provider": "sick", "model": "claude-sonnet-4-5"},
                {"provider": "other", "model": "gpt-4o"},
                {"provider": "same", "model": "claude-sonnet-4-5-20250929"},
            ]
        },
    }
    return start_proxy(yaml.safe_dump(config)), sick, other, same


def _post(url: str, messages: list[dict[str, Any]], stream: bool = False) -> httpx.Response:
    body = {"model": "smart", "max_tokens": 100, "messages": messages, "stream": stream}
    return httpx.post(f"{url}/v1/messages", json=body, headers=HEADERS, timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_signed_conversation_skips_other_provider_types(
    three: tuple[str, ScriptedUpstream, ScriptedUpstream, ScriptedUpstream], stream: bool
) -> None:
    url, sick, other, same = three
    answer = _post(url, SIGNED, stream)
    assert answer.status_code == 200
    assert answer.headers["x-proxy-provider"] == "same"
    assert (sick.hits, other.hits, same.hits) == (1, 0, 1)


def test_plain_conversation_falls_back_to_any_provider(
    three: tuple[str, ScriptedUpstream, ScriptedUpstream, ScriptedUpstream],
) -> None:
    url, sick, other, same = three
    answer = _post(url, PLAIN)
    assert answer.status_code == 200
    assert answer.headers["x-proxy-provider"] == "other"
    assert answer.json()["type"] == "message"  # translated back from Chat Completions
    assert (sick.hits, other.hits, same.hits) == (1, 1, 0)


@pytest.mark.parametrize("fmt", [ANTHROPIC, OPENAI], ids=str)
def test_failure_after_commit_ends_with_an_anthropic_error_event(
    scripted: Callable[..., ScriptedUpstream], start_proxy: Callable[..., str], fmt: Any
) -> None:
    upstream = scripted(fmt, Script(close_after=3))
    config = {
        "providers": {"up": fmt.provider(upstream.url)},
        "models": {"smart": [{"provider": "up", "model": "m-1"}]},
    }
    url = start_proxy(yaml.safe_dump(config))
    answer = _post(url, PLAIN, stream=True)
    assert answer.status_code == 200
    events = [e for e in answer.content.split(b"\n\n") if e.strip()]
    assert events[0].startswith(b"event: message_start")
    assert events[-1].startswith(b"event: error\ndata: ")
    error = orjson.loads(events[-1].split(b"data: ", 1)[1])
    assert error["type"] == "error" and error["error"]["type"]
    assert not any(e.startswith(b"event: message_stop") for e in events)
