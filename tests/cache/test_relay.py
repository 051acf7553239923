"""A follower's copy of a leader's stream: its own id and created on every chunk, usage as
this follower asked, the leader's error event as it is, and an in-band error when it fell
behind a record that outgrew its bound or the leader's stream was cut."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.cache.flights import Flight
from proxy.cache.relay import Reframe, relay
from proxy.providers.base import Usage
from proxy.sse import encode_chunks

LEADER = {"id": "chatcmpl-leader", "object": "chat.completion.chunk", "created": 1}


def chunk(content: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    choices = [] if content is None else [{"index": 0, "delta": {"content": content}}]
    out: dict[str, Any] = {**LEADER, "model": "m", "choices": choices}
    if usage is not None:
        out["usage"] = usage
    return out


def events(body: bytes) -> list[Any]:
    datas = [e[6:] for e in body.split(b"\n\n") if e.startswith(b"data: ")]
    return [d.decode() if d == b"[DONE]" else orjson.loads(d) for d in datas]


USAGE = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


@pytest.mark.parametrize(
    ("leader_usage", "follower_asks", "usage_chunks"),
    [(True, True, 1), (True, False, 0), (False, True, 1), (False, False, 0)],
)
def test_fresh_ids_and_usage_as_the_follower_asked(
    leader_usage: bool, follower_asks: bool, usage_chunks: int
) -> None:
    flight = Flight(1000)
    flight.end(None, Usage(prompt=1, completion=2))
    parts = [encode_chunks([chunk("a"), chunk("b")])]
    if leader_usage:
        parts.append(encode_chunks([chunk(usage=USAGE)]))
    parts.append(b"data: [DONE]\n\n")
    reframe = Reframe("chatcmpl-mine", 7, follower_asks)
    out = events(b"".join(reframe.feed(p) for p in parts) + reframe.closing(flight))
    assert out[-1] == "[DONE]"
    assert {(e["id"], e["created"]) for e in out[:-1]} == {("chatcmpl-mine", 7)}
    assert [e["usage"]["total_tokens"] for e in out[:-1] if e.get("usage")] == [3] * usage_chunks


def test_leader_error_event_passes_as_it_is_and_ends_the_copy() -> None:
    error = b'{"error":{"message":"boom","type":"server_error","param":null,"code":"x"}}'
    reframe = Reframe("chatcmpl-mine", 7, False)
    out = reframe.feed(encode_chunks([chunk("a")]) + b"data: " + error + b"\n\n")
    assert out.endswith(b"data: " + error + b"\n\n")
    assert reframe.closing(Flight(10)) == b""


def test_a_cut_leader_stream_ends_the_copy_with_an_error_event() -> None:
    reframe = Reframe("chatcmpl-mine", 7, False)
    reframe.feed(encode_chunks([chunk("a")]))
    assert events(reframe.closing(Flight(10)))[-1]["error"]["code"] == "coalesced_stream_cut"


async def test_a_follower_behind_a_dropped_part_is_told_in_band() -> None:
    flight = Flight(limit=40)
    first = encode_chunks([chunk("a")])
    flight.commit()
    flight.record(first)
    sent: list[bytes] = []
    gate = [True]

    async def send(message: Any) -> None:
        body = message.get("body", b"")
        sent.append(body)
        if gate[0] and body:
            gate[0] = False
            for _ in range(3):  # while this follower sends, the record outgrows its bound
                flight.record(encode_chunks([chunk("b")]))
            flight.end(None, None)

    start = {"type": "http.response.start", "status": 200, "headers": []}
    ended = await relay(flight, Reframe("chatcmpl-mine", 7, False), send, start)
    assert ended == "coalesced_stream_lagged" and flight.base > 1
    assert events(sent[-1])[-1]["error"]["code"] == "coalesced_stream_lagged"
