"""The chat endpoint at its own depth: the disconnect watch and the request's account, over
a real Gateway with MockTransport upstreams and scripted ASGI (tests/corekit.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from proxy import chat as chat_module
from proxy.providers.base import Reply
from tests.corekit import REPLY, AccessLines, Client, build, chat_body, json_reply, run


async def test_disconnect_fired_as_the_router_returns_is_a_disconnect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 10.6: the watch cancels the request in the very iteration the router's last
    await completes. Python 3.11's wait_for (used by libraries under the router) then
    returns the result and swallows the cancellation, so the router returns normally with
    the watch fired: the account must still say the client went away (499), not 200."""
    monkeypatch.setattr(chat_module, "WATCH_AFTER", 0.0)
    lines = AccessLines().install(monkeypatch)
    endpoint, _ = build({"a": json_reply(REPLY), "b": json_reply(REPLY)})
    client = Client(chat_body("m"))
    state = endpoint.gateway.state
    assert state is not None

    async def complete(*args: Any) -> Reply:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Reply] = loop.create_future()

        async def both_at_once() -> None:
            await client.listening.wait()  # the watch is waiting for a disconnect
            client.gone.set()  # the disconnect and the answer land together
            answer.set_result(Reply(b"{}", None))

        helper = asyncio.create_task(both_at_once())
        try:
            return await asyncio.wait_for(answer, 5)
        finally:
            await helper

    monkeypatch.setattr(state.router, "complete", complete)
    async with asyncio.timeout(5):
        await run(endpoint, client)
    assert lines.lines, "the request's account was never finished"
    assert lines.lines[-1]["status"] == 499
    assert lines.lines[-1]["client_disconnected"]
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0, "a cancellation was left pending"


async def test_non_stream_answer_is_sent_and_accounted() -> None:
    endpoint, _ = build({"a": json_reply(REPLY), "b": json_reply(REPLY)})
    client = Client(chat_body("m"))
    async with asyncio.timeout(5):
        await run(endpoint, client)
    assert client.status == 200 and client.complete
    assert b"from a" in client.body_bytes
