"""The pool's gate (asyncio.Semaphore, see proxy/fair_gate.py): capacity, strict arrival
order, and no slot lost to a cancelled waiter, checked on the Python we run; and the slot
ownership of PoolSlot and GatedStream."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from proxy.config import parse_config
from proxy.errors import UpstreamError
from proxy.fair_gate import GatedStream, PoolSlot
from proxy.providers.base import UpstreamRequest
from proxy.upstream import Upstream


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_capacity_holders_then_waiters_in_arrival_order() -> None:
    gate = asyncio.Semaphore(2)
    order: list[int] = []

    async def holder(i: int) -> None:
        await gate.acquire()
        order.append(i)

    tasks = [asyncio.create_task(holder(i)) for i in range(5)]
    await _settle()
    assert order == [0, 1] and sum(not t.done() for t in tasks) == 3
    for expected in ([0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]):
        gate.release()
        await _settle()
        assert order == expected
    await asyncio.gather(*tasks)


async def test_a_freed_slot_goes_to_the_waiter_not_to_a_newcomer() -> None:
    gate = asyncio.Semaphore(1)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await _settle()
    gate.release()  # handed to the waiter, even before it runs again
    newcomer = asyncio.create_task(gate.acquire())
    await _settle()
    assert waiter.done() and not newcomer.done()
    gate.release()
    await _settle()
    assert newcomer.done()


async def test_a_cancelled_waiter_is_skipped() -> None:
    gate = asyncio.Semaphore(1)
    await gate.acquire()
    gone = asyncio.create_task(gate.acquire())
    stays = asyncio.create_task(gate.acquire())
    await _settle()
    gone.cancel()
    await _settle()
    gate.release()
    await _settle()
    assert stays.done() and gone.cancelled()


async def test_a_slot_handed_to_a_waiter_that_is_then_cancelled_passes_on() -> None:
    gate = asyncio.Semaphore(1)
    await gate.acquire()
    unlucky = asyncio.create_task(gate.acquire())
    next_in_line = asyncio.create_task(gate.acquire())
    await _settle()
    gate.release()  # resolves unlucky's future ...
    unlucky.cancel()  # ... which is cancelled before it runs
    await _settle()
    assert unlucky.cancelled()
    assert next_in_line.done()  # the slot was passed on, not lost
    gate.release()
    await gate.acquire()  # and the count is right: one free slot again


class _Body(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self.closed = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield b"a"
        yield b"b"

    async def aclose(self) -> None:
        self.closed += 1


async def test_gated_stream_passes_the_body_and_frees_its_slot_once() -> None:
    gate = asyncio.Semaphore(1)
    await gate.acquire()
    body = _Body()
    stream = GatedStream(body, gate)
    assert [chunk async for chunk in stream] == [b"a", b"b"]
    await stream.aclose()
    await stream.aclose()
    assert body.closed == 2
    await gate.acquire()  # freed exactly once: a second acquire would now wait
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await gate.acquire()


def _upstream(transport: httpx.AsyncBaseTransport) -> Upstream:
    config = parse_config(
        'providers: {up: {type: openai, base_url: "http://127.0.0.1:9/v1", max_connections: 1}}\n'
        "models: {m: [{provider: up, model: m}]}\nauth: {disabled: true}\n",
        {},
    )
    return Upstream(config.providers["up"], transport)


REQUEST = UpstreamRequest("http://127.0.0.1:9/v1/chat/completions", {}, b"{}", False)


async def _open(upstream: Upstream, request_id: str) -> httpx.Response:
    """One attempt as the router makes it: a slot, then the request."""
    loop = asyncio.get_running_loop()
    async with upstream.slot(loop.time() + 60) as slot:
        return await upstream.open(REQUEST, request_id, slot)


async def test_upstream_holds_one_slot_per_open_response_and_frees_it_on_failure() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, stream=_Body())  # read as it comes, like a socket

    upstream = _upstream(httpx.MockTransport(answer))
    with pytest.raises(UpstreamError):
        await _open(upstream, "r1")  # the failed attempt gave its slot back
    first = await _open(upstream, "r2")
    second = asyncio.create_task(_open(upstream, "r3"))
    await _settle()
    assert not second.done()  # max_connections: 1, and the first response is still open
    await first.aclose()
    await _settle()
    assert second.done()
    await (second.result()).aclose()


async def test_a_response_already_read_into_memory_holds_no_slot() -> None:
    upstream = _upstream(httpx.MockTransport(lambda r: httpx.Response(200, content=b"{}")))
    for i in range(3):  # max_connections: 1, and nobody closes these
        response = await asyncio.wait_for(_open(upstream, f"r{i}"), 1)
        assert response.content == b"{}"


async def test_a_slot_nobody_took_over_is_freed_when_the_block_ends() -> None:
    gate = asyncio.Semaphore(1)
    loop = asyncio.get_running_loop()
    with pytest.raises(RuntimeError):
        async with PoolSlot(gate, "up", loop.time() + 60, 60):
            raise RuntimeError("the attempt failed before any response")
    async with PoolSlot(gate, "up", loop.time() + 60, 60) as slot:
        body = slot.hand_to(_Body())
    assert gate.locked()  # the response body owns it now
    await body.aclose()
    assert not gate.locked()
