"""In-flight coalescing, black box: 50 identical concurrent requests (stream and non-stream
mixed) make one upstream call and all get a correct answer (checked by the openai SDK);
the leader's client leaving midway does not fail the others."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import CLIENT_KEY
from tests.e2e.test_cache_e2e import ADMIN_KEY, MESSAGES, yaml_for
from tests.fakes.formats import OPENAI, words
from tests.fakes.scripted import Script, ScriptedUpstream

N = 50
STREAMED = "".join(words(6))  # the scripted transcript's content
WHOLE = "scripted answer"  # the scripted non-stream answer's content


@pytest.fixture
def fake(scripted: Callable[..., ScriptedUpstream]) -> ScriptedUpstream:
    return scripted(OPENAI)


@pytest.fixture
def proxy(fake: ScriptedUpstream, start_proxy: Callable[..., str]) -> str:
    return start_proxy(yaml_for(fake.url))


async def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def followers_waiting(proxy: str, count: int) -> None:
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {ADMIN_KEY}"}) as admin:

        async def check() -> bool:
            stats = (await admin.get(f"{proxy}/admin/cache")).json()
            return bool(stats["waiting"] == count)

        await wait_for(check)


async def ask(client: openai.AsyncOpenAI, stream: bool) -> str:
    if not stream:
        answer = await client.chat.completions.create(model="demo", messages=MESSAGES)
        assert answer.choices[0].finish_reason == "stop"
        return answer.choices[0].message.content or ""
    parts = []
    finish = None
    async for chunk in await client.chat.completions.create(
        model="demo", messages=MESSAGES, stream=True
    ):
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert finish == "stop"
    return "".join(parts)


def sdk(proxy: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{proxy}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)


async def test_fifty_identical_requests_make_one_upstream_call(
    proxy: str, fake: ScriptedUpstream
) -> None:
    hold = threading.Event()
    fake.script = Script(hold_headers=hold)
    client = sdk(proxy)
    leader = asyncio.create_task(ask(client, stream=False))
    await wait_for(lambda: _true(fake.hits == 1))
    others = [asyncio.create_task(ask(client, stream=i % 2 == 0)) for i in range(N - 1)]
    await followers_waiting(proxy, N - 1)
    hold.set()
    answers = await asyncio.gather(leader, *others)
    assert answers == [WHOLE] * N
    assert fake.hits == 1
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        stats = (await admin.get(f"{proxy}/admin/cache")).json()
    assert (stats["misses"], stats["coalesced"], stats["waiting"]) == (1, N - 1, 0)


async def test_leader_client_leaving_does_not_fail_the_others(
    proxy: str, fake: ScriptedUpstream
) -> None:
    resume = threading.Event()
    fake.script = Script(hold={3: resume})  # the leader's stream stops after 3 events
    async with httpx.AsyncClient(timeout=30) as raw:
        body = {"model": "demo", "messages": MESSAGES, "stream": True}
        head = {"authorization": f"Bearer {CLIENT_KEY}"}
        async with raw.stream("POST", f"{proxy}/v1/chat/completions", json=body, headers=head) as r:
            assert r.headers["x-proxy-cache"] == "miss"
            first = r.aiter_raw()
            assert await first.__anext__()  # the leader's client has its first bytes
            client = sdk(proxy)
            others = [asyncio.create_task(ask(client, stream=i % 2 == 0)) for i in range(N - 1)]
            await followers_waiting(proxy, N - 1)
        # The leader's client is gone: its upstream call goes on for the followers (live
        # coalescing), and every one of them gets that one answer.
        resume.set()
        answers = await asyncio.gather(*others)
    assert answers == [STREAMED] * (N - 1)
    assert fake.hits == 1 and fake.requests[0].outcome == "completed"


async def _true(value: object) -> bool:
    return bool(value)


async def test_follower_is_marked_coalesced_with_its_own_id(
    proxy: str, fake: ScriptedUpstream
) -> None:
    hold = threading.Event()
    fake.script = Script(hold_headers=hold)
    body = {"model": "demo", "messages": MESSAGES}
    head = {"authorization": f"Bearer {CLIENT_KEY}"}
    async with httpx.AsyncClient(timeout=30) as raw:
        url = f"{proxy}/v1/chat/completions"
        leader = asyncio.create_task(raw.post(url, json=body, headers=head))
        await wait_for(lambda: _true(fake.hits == 1))
        follower = asyncio.create_task(raw.post(url, json=body, headers=head))
        await followers_waiting(proxy, 1)
        hold.set()
        first, second = await leader, await follower
    assert first.headers["x-proxy-cache"] == "miss" and "age" not in first.headers
    assert second.headers["x-proxy-cache"] == "coalesced" and int(second.headers["age"]) >= 0
    assert second.json()["id"] != first.json()["id"]
    assert second.json()["choices"] == first.json()["choices"]
