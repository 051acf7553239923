"""How the fallback loop classifies what goes wrong inside an attempt (issue 10, item 1):
only a cancellation is a client disconnect; malformed upstream data is malformed_response
and falls back; anything else is a bug of ours: a logged 500, counted as internal_error."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest

from tests.corekit import REPLY, AccessLines, Client, build, chat_body, health, json_reply, run

BACKUP = {**REPLY, "choices": [{"index": 0, "message": {"role": "assistant", "content": "b"}}]}
BAD_USAGE = [
    {"prompt_tokens": "abc"},
    {"prompt_tokens": 1, "prompt_tokens_details": [1]},
    {"completion_tokens": -3},
    [1],
]


@pytest.mark.parametrize("usage", BAD_USAGE, ids=str)
async def test_malformed_usage_falls_back(usage: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = AccessLines().install(monkeypatch)
    endpoint, upstreams = build(
        {"a": json_reply({**REPLY, "usage": usage}), "b": json_reply(BACKUP)}
    )
    client = Client(chat_body("m"))
    async with asyncio.timeout(5):
        await run(endpoint, client)
    assert client.status == 200, client.body_bytes
    assert orjson.loads(client.body_bytes)["choices"][0]["message"]["content"] == "b"
    assert upstreams.hits == {"a": 1, "b": 1}
    assert lines.lines[-1]["attempts"] == [("a", "malformed_response"), ("b", "ok")]
    assert not lines.lines[-1]["client_disconnected"]
    assert health(endpoint).state == "open", "a malformed reply charges the breaker"


async def test_a_bug_inside_an_attempt_is_a_logged_500_not_a_disconnect(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lines = AccessLines().install(monkeypatch)

    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug of ours")

    endpoint, upstreams = build({"a": broken, "b": json_reply(BACKUP)})
    client = Client(chat_body("m"))
    with caplog.at_level(logging.ERROR):
        async with asyncio.timeout(5):
            await run(endpoint, client)
    assert client.status == 500
    assert orjson.loads(client.body_bytes)["error"]["code"] == "internal_error"
    assert upstreams.hits == {"a": 1}, "our own bug is not a reason to try the next provider"
    assert lines.lines[-1]["attempts"] == [("a", "internal_error")]
    assert not lines.lines[-1]["client_disconnected"]
    assert health(endpoint).state == "closed", "not the provider's failure"
    assert "a bug of ours" in caplog.text
