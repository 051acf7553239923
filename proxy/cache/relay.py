"""A stream follower's copy of a leader's live stream: the parts recorded so far, then the
rest as the leader sends them, re-encoded for this follower.

Ids and `created` are fresh per answer (issue 12), so the leader's bytes cannot be sent
as they are: each follower parses each data event once and writes it again with its own
id and created (what replay.py does for a stored entry). That costs one loads+dumps per
event per follower, on the follower's time; the leader pays nothing for its followers.
Usage follows this follower's stream_options.include_usage, not the leader's: a usage
chunk the leader got is dropped, one it did not get is added from the leader's usage.

A follower reads the shared record at its own pace (flights.py). If it falls so far
behind that a part it needs was dropped (the answer outgrew cache.max_entry_bytes), it
cannot go on: a new upstream answer would differ from what it already sent. So it ends
with one in-band error event (`coalesced_stream_lagged`), as any stream failing after its
commit does. The leader's own failure after the commit reaches followers as the same
error event; a leader cut without one ends them with `coalesced_stream_cut`.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Message, Send

from proxy.cache import entry as entries
from proxy.cache.flights import Flight
from proxy.errors import ProxyError
from proxy.sse import DONE, encode_chunks, encode_error_event

LAGGED = ProxyError(
    502,
    "server_error",
    "This stream shared an upstream answer and fell too far behind it (the answer is larger"
    " than cache.max_entry_bytes); retry the request.",
    code="coalesced_stream_lagged",
)
CUT = ProxyError(
    502,
    "server_error",
    "The upstream answer this stream shared ended early; retry the request.",
    code="coalesced_stream_cut",
)


class Reframe:
    """The leader's SSE body parts, re-encoded for one follower."""

    def __init__(self, response_id: str, created: int, include_usage: bool) -> None:
        self._fresh = {"id": response_id, "created": created}
        self._include_usage = include_usage
        self.done = False  # the leader's [DONE] went by
        self.closed = False  # this follower's [DONE] is out: nothing may follow it
        self.failed = False  # an error event went by: nothing may follow it
        self._usage_sent = False
        self._model: Any = None

    def feed(self, part: bytes) -> bytes:
        out: list[bytes] = []
        for data in _datas(part):
            if data == b"[DONE]":
                self.done = True
                if not self._include_usage or self._usage_sent:
                    self.closed = True  # else held back: the usage chunk goes first
                    out.append(DONE)
                continue
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                chunk = None  # the leader's pipe checked it; should it not, end here
            if not isinstance(chunk, dict) or "error" in chunk:
                self.failed = True  # the leader's error event, as it is, or our own
                error = data if chunk is not None else CUT.to_openai_body()
                out.append(encode_error_event(error))
                continue
            encoded = self._chunk(chunk)
            if encoded:
                out.append(encoded)
        return b"".join(out)

    def closing(self, flight: Flight) -> bytes:
        """What ends this follower's stream once the leader's has ended."""
        if self.failed or self.closed:
            return b""
        if not self.done:
            self.failed = True
            return encode_error_event(CUT.to_openai_body())
        self.closed = True
        if self._include_usage and not self._usage_sent and flight.usage is not None:
            usage = entries.usage_body(flight.usage)
            chunk = {**self._fresh, "object": "chat.completion.chunk", "model": self._model}
            return encode_chunks([{**chunk, "choices": [], "usage": usage}]) + DONE
        return DONE

    def _chunk(self, chunk: dict[str, Any]) -> bytes:
        self._model = chunk.get("model", self._model)
        if chunk.get("usage") and not chunk.get("choices"):
            if not self._include_usage:
                return b""  # the leader asked for usage, this follower did not
            self._usage_sent = True
        elif not self._include_usage:
            chunk.pop("usage", None)
        return b"data: " + orjson.dumps({**chunk, **self._fresh}) + b"\n\n"


def _datas(part: bytes) -> list[bytes]:
    """The data of each event in a part (parts hold whole events: pipes frame them)."""
    text = part.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in part else part
    datas = []
    for event in text.split(b"\n\n"):
        lines = [ln[5:].strip() for ln in event.split(b"\n") if ln.startswith(b"data:")]
        if lines:
            datas.append(b"\n".join(lines))
    return datas


async def relay(flight: Flight, reframe: Reframe, send: Send, start: Message) -> str:
    """Send the response `start`, then the flight's stream re-encoded, to this follower
    (which has all the parts from the first: flight.base is 0). Returns how it ended, for
    the follower's account: ok, or the code of the error event that ended it."""
    await send(start)
    cursor = 0
    while not (reframe.closed or reframe.failed):
        index = cursor - flight.base
        if index < 0:
            await _body(send, encode_error_event(LAGGED.to_openai_body()))
            return "coalesced_stream_lagged"
        if index < len(flight.parts):
            cursor += 1
            out = reframe.feed(flight.parts[index])
            if out:
                await _body(send, out)
        elif flight.ended:
            await _body(send, reframe.closing(flight))
        else:
            await flight.changed()
    return "ok" if reframe.closed else "coalesced_stream_cut"


async def _body(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})
