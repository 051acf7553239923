"""Lifecycle: a drain bounds non-stream waits with a 503 gateway_shutdown; a failed SIGHUP
reload is logged."""

from __future__ import annotations

import asyncio
import logging

import pytest

from proxy.errors import ProxyError
from proxy.lifecycle import Lifecycle, _run


async def _waits_forever(started: asyncio.Event) -> str:
    started.set()
    await asyncio.Event().wait()
    return "never"


@pytest.mark.parametrize("drain_first", [False, True])
async def test_a_drain_ends_a_waiting_request_with_gateway_shutdown(drain_first: bool) -> None:
    life = Lifecycle(max_in_flight=10, drain_timeout=0.05)
    started = asyncio.Event()
    if drain_first:
        life.begin_drain()
    task = asyncio.create_task(life.bounded(_waits_forever(started)))
    await started.wait()
    life.begin_drain()  # a second call changes nothing
    with pytest.raises(ProxyError) as info:
        await asyncio.wait_for(task, timeout=5)
    error = info.value
    assert (error.status, error.type, error.code) == (
        503,
        "service_unavailable",
        "gateway_shutdown",
    )
    assert error.headers["connection"] == "close"
    assert not life._stream_timeouts  # nothing left registered
    assert not life._waiting and not life._cut
    assert task.cancelling() == 0  # the drain's cancellation was taken back


async def test_a_disconnect_while_draining_stays_a_disconnect() -> None:
    """The client's cancellation and the drain's land together: the request is the
    client's disconnect (CancelledError), not a 503 nobody would read."""
    life = Lifecycle(max_in_flight=10, drain_timeout=0.01)
    started = asyncio.Event()
    task = asyncio.create_task(life.bounded(_waits_forever(started)))
    await started.wait()
    task.cancel()  # the client left...
    life.begin_drain()
    life._cut_waiting()  # ...and the drain deadline passed in the same iteration
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not life._waiting and not life._cut


async def test_without_a_drain_the_work_answers_and_cancellation_passes_through() -> None:
    life = Lifecycle(max_in_flight=10, drain_timeout=0.05)

    async def answer() -> str:
        return "ok"

    assert await life.bounded(answer()) == "ok"
    started = asyncio.Event()
    task = asyncio.create_task(life.bounded(_waits_forever(started)))
    await started.wait()
    task.cancel()  # a client disconnect, not a drain
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not life._stream_timeouts
    assert not life._waiting and not life._cut


async def test_a_failed_sighup_reload_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def reload() -> None:
        raise OSError("disk gone")

    with caplog.at_level(logging.ERROR, logger="proxy.lifecycle"):
        await _run(reload)
    assert any(
        r.message.startswith("reload failed") and r.exc_info is not None for r in caplog.records
    )
