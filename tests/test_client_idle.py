"""IdleSend (proxy/client_idle.py): a send that waits too long on the client cancels the
stream's task; a client that is slow but keeps taking bytes is never cut."""

from __future__ import annotations

import asyncio
from typing import Any


async def _run_sends(delays: list[float | None], timeout: float) -> tuple[bool, bool]:
    """Send once per delay (None: a client that never takes the bytes); (fired, cancelled)."""
    from proxy.client_idle import IdleSend

    async def send(message: Any) -> None:
        delay = message["delay"]
        if delay is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(delay)  # a slow client, not a synchronisation

    async def stream() -> IdleSend:
        idle = IdleSend(send, timeout, asyncio.get_running_loop())
        try:
            for delay in delays:
                await idle({"delay": delay})
        except asyncio.CancelledError:
            idle.absorb_cancel()
        finally:
            idle.close()
        return idle

    async with asyncio.timeout(10):
        idle = await asyncio.create_task(stream())
    return idle.fired, idle.broken


async def test_a_client_that_never_takes_the_bytes_is_cut() -> None:
    assert await _run_sends([0.0, None], timeout=0.2) == (True, True)


async def test_a_slow_client_that_keeps_reading_is_not_cut() -> None:
    # 20 sends of 0.05 s: a second in all, each far inside the 0.5 s bound.
    assert await _run_sends([0.05] * 20, timeout=0.5) == (False, False)
