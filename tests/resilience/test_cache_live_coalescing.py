"""Live coalescing of streams, black box (real server, scripted upstream that counts its
calls and holds its events): a stream follower gets the chunks the leader already sent,
then the rest live; the leader's client leaving keeps the upstream going for followers
(and stops it once none remain); a follower that does not read does not stall the leader."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import CLIENT_KEY
from tests.e2e.test_cache_e2e import ADMIN_KEY, MESSAGES, yaml_for
from tests.fakes.formats import OPENAI, _openai_chunk, words
from tests.fakes.scripted import Script, ScriptedUpstream
from tests.metrics_scrape import delta, scrape
from tests.resilience.test_cache_coalescing import (
    WHOLE,
    _true,
    ask,
    followers_waiting,
    sdk,
    wait_for,
)

N = 50
STREAMED = "".join(words(6))  # the scripted transcript's content: events 1..6 carry a word
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
BODY = {"model": "demo", "messages": MESSAGES, "stream": True}
HEAD = {"authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture
def fake(scripted: Callable[..., ScriptedUpstream]) -> ScriptedUpstream:
    return scripted(OPENAI)


@pytest.fixture
def proxy(fake: ScriptedUpstream, start_proxy: Callable[..., str]) -> str:
    return start_proxy(yaml_for(fake.url))


class Events:
    """A raw stream's data events, read one at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines: AsyncIterator[str] = response.aiter_lines()

    async def next(self) -> Any:
        async for line in self._lines:
            if line.startswith("data: "):
                data = line[6:]
                return data if data == "[DONE]" else orjson.loads(data)
        return None  # the stream ended

    async def until_done(self) -> list[Any]:
        out = []
        while (event := await self.next()) is not None:
            out.append(event)
            if event == "[DONE]" or "error" in event:
                break
        return out


def content(events: list[Any]) -> str:
    return "".join(
        c["delta"].get("content") or "" for e in events if e != "[DONE]" for c in e["choices"]
    )


async def test_late_stream_follower_gets_sent_chunks_then_live_ones(
    proxy: str, fake: ScriptedUpstream
) -> None:
    resume = threading.Event()
    fake.script = Script(hold={3: resume})  # events 0..2 (role, w0, w1), then held
    url = f"{proxy}/v1/chat/completions"
    async with (
        httpx.AsyncClient(timeout=30) as raw,
        raw.stream("POST", url, json=BODY, headers=HEAD) as lead,
    ):
        leader = Events(lead)
        sent = [await leader.next() for _ in range(3)]
        assert content(sent) == "w0 w1 "
        async with raw.stream("POST", url, json=BODY, headers=HEAD) as late:
            assert late.headers["x-proxy-cache"] == "coalesced"
            follower = Events(late)
            # The chunks already sent, while the upstream is still held: not a replay.
            early = [await follower.next() for _ in range(3)]
            assert content(early) == "w0 w1 " and not resume.is_set()
            assert fake.requests[0].outcome == "pending"
            assert {e["id"] for e in early} != {sent[0]["id"]}  # its own id
            assert len({e["id"] for e in early}) == 1
            resume.set()
            rest = await follower.until_done()
            assert rest[-1] == "[DONE]" and content(early + rest) == STREAMED
        assert content(sent + await leader.until_done()) == STREAMED
    assert fake.hits == 1


async def test_fifty_mixed_requests_behind_a_streaming_leader_make_one_call(
    proxy: str, fake: ScriptedUpstream
) -> None:
    resume = threading.Event()
    fake.script = Script(hold={3: resume})
    client = sdk(proxy)
    async with httpx.AsyncClient(timeout=30) as raw:
        url = f"{proxy}/v1/chat/completions"
        async with raw.stream("POST", url, json=BODY, headers=HEAD) as lead:
            leader = Events(lead)
            first = await leader.next()
            others = [asyncio.create_task(ask(client, stream=i % 2 == 0)) for i in range(N - 1)]
            await followers_waiting(proxy, N - 1)
            resume.set()
            led = [first, *await leader.until_done()]
            answers = await asyncio.gather(*others)
    assert content(led) == STREAMED
    assert answers == [STREAMED] * (N - 1)
    assert fake.hits == 1


async def test_leader_leaving_keeps_the_upstream_for_followers(
    proxy: str, fake: ScriptedUpstream
) -> None:
    resume = threading.Event()
    fake.script = Script(hold={3: resume})
    client = sdk(proxy)
    before = scrape(proxy, ADMIN)
    async with httpx.AsyncClient(timeout=30) as raw:
        url = f"{proxy}/v1/chat/completions"
        async with raw.stream("POST", url, json=BODY, headers=HEAD) as lead:
            assert await Events(lead).next()
            others = [asyncio.create_task(ask(client, stream=i % 2 == 0)) for i in range(N - 1)]
            await followers_waiting(proxy, N - 1)
        # The leader's client is gone (the proxy saw it); its upstream call goes on for the 49.
        await detached_leaders(proxy, 1)
        assert fake.requests[0].outcome == "pending"
        resume.set()
        answers = await asyncio.gather(*others)
    assert answers == [STREAMED] * (N - 1)
    assert fake.hits == 1 and fake.requests[0].outcome == "completed"
    # The leader's account: its client left; the provider answered well (not charged).
    after = scrape(proxy, ADMIN)
    assert delta(before, after, "proxy_client_disconnects_total", model="demo") == 1
    assert delta(before, after, "proxy_upstream_attempts_total", provider="up", outcome="ok") == 1


async def detached_leaders(proxy: str, count: int) -> None:
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {ADMIN_KEY}"}) as admin:

        async def check() -> bool:
            stats = (await admin.get(f"{proxy}/admin/cache")).json()
            return bool(stats["detached_leaders"] == count)

        await wait_for(check)


async def test_upstream_stops_when_the_leader_and_all_followers_left(
    proxy: str, fake: ScriptedUpstream
) -> None:
    resume = threading.Event()
    fake.script = Script(hold={3: resume})
    url = f"{proxy}/v1/chat/completions"
    async with (
        httpx.AsyncClient(timeout=30) as raw,
        raw.stream("POST", url, json=BODY, headers=HEAD) as lead,
    ):
        assert await Events(lead).next()
        async with raw.stream("POST", url, json=BODY, headers=HEAD) as late:
            assert await Events(late).next()
    # Nobody is left to read the answer: the upstream call is dropped, not billed to the end.
    await wait_for(lambda: _true(fake.requests[0].outcome == "disconnected"))
    resume.set()
    assert fake.hits == 1


def big_stream(pieces: int, size: int) -> list[bytes]:
    events = [_openai_chunk(OPENAI, {"role": "assistant", "content": ""}, None)]
    events += [_openai_chunk(OPENAI, {"content": "x" * size}, None) for _ in range(pieces)]
    events += [_openai_chunk(OPENAI, {}, "stop"), OPENAI.frame(b"[DONE]")]
    return events


async def test_a_follower_that_does_not_read_does_not_stall_the_leader(
    fake: ScriptedUpstream, start_proxy: Callable[..., str]
) -> None:
    pieces, size = 128, 128 * 1024  # 16 MiB: far more than the sockets between us hold
    proxy = start_proxy(yaml_for(fake.url, cache="  max_entry_bytes: 1048576"))
    resume = threading.Event()
    fake.script = Script(events=big_stream(pieces, size), hold={1: resume})
    url = f"{proxy}/v1/chat/completions"
    async with (
        httpx.AsyncClient(timeout=30) as raw,
        raw.stream("POST", url, json=BODY, headers=HEAD) as lead,
    ):
        leader = Events(lead)
        assert await leader.next()
        reader, writer = await stalled_follower(proxy)
        try:
            await followers_waiting(proxy, 1)
            resume.set()
            # The follower reads nothing until the leader has its whole answer.
            rest = await leader.until_done()
            assert rest[-1] == "[DONE]" and len(content(rest)) == pieces * size
            tail = await read_to_end(reader)
        finally:
            writer.close()
    # It fell behind a record bounded by max_entry_bytes, and was told so in band.
    last = tail[tail.rindex(b"data: ") + 6 :].split(b"\n\n")[0]
    assert orjson.loads(last)["error"]["code"] == "coalesced_stream_lagged"
    assert fake.hits == 1


async def stalled_follower(proxy: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream follower on a socket with a tiny receive buffer that it does not read."""
    host, port = proxy.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # set before connect: fixed
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    body = orjson.dumps(BODY)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        + f"authorization: Bearer {CLIENT_KEY}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    return reader, writer


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    """The raw response, up to the chunked body's end (bounded by a deadline)."""
    got = bytearray()
    async with asyncio.timeout(30):
        while not got.endswith(b"0\r\n\r\n"):
            part = await reader.read(65536)
            assert part, "the follower's connection closed before its body ended"
            got += part
    return bytes(got)


async def test_non_stream_follower_of_a_stream_leader_gets_the_whole_answer(
    proxy: str, fake: ScriptedUpstream
) -> None:
    resume = threading.Event()
    fake.script = Script(hold={3: resume})
    # Built and used once before the leader starts: on a busy machine the SDK's first call
    # can take seconds, longer than the fake may hold the leader (HOLD_LIMIT).
    client = sdk(proxy)
    await client.models.list()
    async with httpx.AsyncClient(timeout=30) as raw:
        url = f"{proxy}/v1/chat/completions"
        async with raw.stream("POST", url, json=BODY, headers=HEAD) as lead:
            assert await Events(lead).next()
            whole = asyncio.create_task(ask(client, stream=False))
            await followers_waiting(proxy, 1)
            resume.set()
            assert await whole == STREAMED
    assert fake.hits == 1


def with_usage() -> list[bytes]:
    usage = {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    chunk = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1}
    last = OPENAI.frame(orjson.dumps({**chunk, "model": "scripted", "choices": [], "usage": usage}))
    events = OPENAI.transcript()
    return [*events[:-1], last, events[-1]]


@pytest.mark.parametrize(("leader_asks", "follower_asks"), [(False, True), (True, False)])
async def test_stream_follower_gets_usage_only_if_it_asked(
    proxy: str, fake: ScriptedUpstream, leader_asks: bool, follower_asks: bool
) -> None:
    resume = threading.Event()
    fake.script = Script(events=with_usage(), hold={3: resume})
    lead_body = {**BODY, "stream_options": {"include_usage": leader_asks}}
    follow_body = {**BODY, "stream_options": {"include_usage": follower_asks}}
    async with httpx.AsyncClient(timeout=30) as raw:
        url = f"{proxy}/v1/chat/completions"
        async with raw.stream("POST", url, json=lead_body, headers=HEAD) as lead:
            assert await Events(lead).next()
            async with raw.stream("POST", url, json=follow_body, headers=HEAD) as follow:
                assert follow.headers["x-proxy-cache"] == "coalesced"
                resume.set()
                got = await Events(follow).until_done()
    assert got[-1] == "[DONE]" and content(got[:-1]) == STREAMED
    usage = [e for e in got[:-1] if e.get("usage")]
    if follower_asks:
        assert len(usage) == 1 and usage[0]["usage"]["total_tokens"] == 11
        assert usage[0]["choices"] == [] and usage[0] is got[-2]
    else:
        assert usage == []
    assert fake.hits == 1


async def test_leader_failing_after_its_commit_ends_its_live_followers_in_band(
    proxy: str, fake: ScriptedUpstream
) -> None:
    """A follower already relaying shares the leader's failure (it cannot switch answers
    midway); the failed flight answers no one after it."""
    resume = threading.Event()
    calls: list[int] = []

    def choose(_: object) -> Script:
        calls.append(1)
        return Script(hold={3: resume}, reset_after=4) if len(calls) == 1 else Script()

    fake.choose = choose
    url = f"{proxy}/v1/chat/completions"
    async with (
        httpx.AsyncClient(timeout=30) as raw,
        raw.stream("POST", url, json=BODY, headers=HEAD) as lead,
    ):
        leader = Events(lead)
        assert await leader.next()
        async with raw.stream("POST", url, json=BODY, headers=HEAD) as live:
            follower = Events(live)
            assert await follower.next()
            resume.set()
            cut = await follower.until_done()
            leader_cut = await leader.until_done()
    assert "error" in leader_cut[-1] and "error" in cut[-1]
    assert cut[-1]["error"]["code"] == leader_cut[-1]["error"]["code"]
    # The next identical request is not answered from the failed flight.
    assert await ask(sdk(proxy), stream=True) == STREAMED
    assert fake.hits == 2


async def test_leader_failing_before_its_first_byte_leaves_followers_to_call_on_their_own(
    proxy: str, fake: ScriptedUpstream
) -> None:
    release = threading.Event()
    calls: list[int] = []

    def choose(_: object) -> Script:
        calls.append(1)
        return Script(status=400, hold_headers=release) if len(calls) == 1 else Script()

    fake.choose = choose
    client = sdk(proxy)
    leader = asyncio.create_task(ask(client, stream=True))
    await wait_for(lambda: _true(fake.hits == 1))
    followers = [asyncio.create_task(ask(client, stream=i % 2 == 0)) for i in range(4)]
    await followers_waiting(proxy, 4)
    release.set()
    with pytest.raises(openai.BadRequestError):
        await leader
    answers = await asyncio.gather(*followers)
    # The first follower back leads (stream or not); every answer is that one answer.
    assert len(set(answers)) == 1 and answers[0] in (STREAMED, WHOLE)
    assert fake.hits == 2  # the failed leader's, then one follower's on behalf of all


async def test_non_stream_leader_leaving_keeps_the_upstream_for_followers(
    proxy: str, fake: ScriptedUpstream
) -> None:
    release = threading.Event()
    fake.script = Script(hold_headers=release)
    client = sdk(proxy)
    async with httpx.AsyncClient(timeout=30) as raw:
        body = {"model": "demo", "messages": MESSAGES}
        url = f"{proxy}/v1/chat/completions"
        leader = asyncio.create_task(raw.post(url, json=body, headers=HEAD))
        await wait_for(lambda: _true(fake.hits == 1))
        followers = [asyncio.create_task(ask(client, stream=i % 2 == 0)) for i in range(4)]
        await followers_waiting(proxy, 4)
        leader.cancel()  # the leader's client goes away: its connection closes
        await detached_leaders(proxy, 1)
        release.set()
        answers = await asyncio.gather(*followers)
    assert answers == [WHOLE] * 4
    assert fake.hits == 1 and fake.requests[0].outcome == "completed"
