"""A send that gives up on a client that stops reading (server.client_idle_timeout).

uvicorn's `send` waits while the connection's write buffer is full, for as long as the
client does not read: without a bound, such a client holds its upstream connection, pool
slot and probe admission for the whole request deadline (issue 16, item 6). One timer per
idle period, not one per send: a send only records when it began, and the timer, when it
fires during a send that is still the one it was armed for, cancels the stream's task.
"""

from __future__ import annotations

import asyncio

from starlette.types import Message, Send


class IdleSend:
    def __init__(self, send: Send, timeout: float, loop: asyncio.AbstractEventLoop) -> None:
        task = asyncio.current_task(loop)
        assert task is not None
        self._task = task
        self._send = send
        self._timeout = timeout
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._seq = 0  # sends so far
        self._armed_for = 0  # the send the timer watches
        self._began = 0.0  # loop time the current send began
        self._sending = False
        self.fired = False  # the task was cancelled because the client did not read
        self.broken = False  # a send was interrupted (by a deadline or a cancellation)

    async def __call__(self, message: Message) -> None:
        self._seq += 1
        self._began = self._loop.time()
        self._sending = True
        if self._timer is None:
            self._arm()
        try:
            await self._send(message)
        except BaseException:
            self.broken = True
            raise
        finally:
            self._sending = False

    def absorb_cancel(self) -> None:
        """The idle cancellation was caught: the task is not being cancelled any more."""
        self._task.uncancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        self._armed_for = self._seq
        self._timer = self._loop.call_at(self._began + self._timeout, self._check)

    def _check(self) -> None:
        self._timer = None
        if not self._sending:
            return  # the next send arms the timer again
        if self._seq != self._armed_for:
            self._arm()  # a later send: it has its own full period
            return
        self.fired = True
        self._task.cancel()
