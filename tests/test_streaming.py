"""The stream owner (streaming.StreamCall) at its own depth: a real Gateway over
httpx.MockTransport upstreams, driven by scripted ASGI receive/send (tests/corekit.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
import pytest

from tests.corekit import (
    CHUNK,
    DONE,
    AccessLines,
    Client,
    build,
    chat_body,
    health,
    run,
    stream_reply,
)

ERROR = b'data: {"error": {"message": "upstream exploded", "type": "server_error"}}\n\n'


def events(body: bytes) -> list[Any]:
    out = []
    for block in body.split(b"\n\n"):
        if block.startswith(b"data: "):
            data = block[6:]
            out.append(data if data == b"[DONE]" else orjson.loads(data))
    return out


def error_code(body: bytes) -> str:
    last = events(body)[-1]
    assert isinstance(last, dict) and "error" in last, body[-300:]
    return str(last["error"]["code"])


async def serve_ok(chat: Any, model: str = "solo") -> Client:
    client = Client(chat_body(model, stream=True))
    async with asyncio.timeout(5):
        await run(chat, client)
    return client


async def test_failed_start_send_releases_upstream_pool_slot_and_probe() -> None:
    """Issue 10.2: the 200's send fails; the upstream response, its pool slot (a
    max_connections: 1 pool) and the half-open probe must all come back."""
    handler, bodies = stream_reply([CHUNK, CHUNK, DONE])
    chat, _ = build({"a": handler, "b": handler})
    health(chat).breaker.half_open()  # the next request is the single probe
    broken = Client(chat_body("solo", stream=True), fail_at=0)
    with contextlib.suppress(OSError):
        async with asyncio.timeout(5):
            await run(chat, broken)
    assert bodies[0].closed.is_set(), "the upstream response was left open"
    # The probe and the only pool slot are free again: the next request goes through.
    client = await serve_ok(chat)
    assert client.status == 200 and client.body_bytes.endswith(DONE)


CUT_CASES = {
    "truncated": ([CHUNK, CHUNK], "upstream_truncated"),
    "in_band_error": ([CHUNK, ERROR], "stream_error"),
    "bad_json": ([CHUNK, b"data: {nope\n\n"], "stream_error"),
    "bad_usage": ([CHUNK, b'data: {"choices":[],"usage":{"prompt_tokens":"abc"}}\n\n'], None),
    "bad_usage_details": (
        [CHUNK, b'data: {"choices":[],"usage":{"prompt_tokens_details":[1]}}\n\n'],
        None,
    ),
}


@pytest.mark.parametrize("case", CUT_CASES)
async def test_failure_after_commit_is_in_band_charged_and_in_the_attempt_line(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10.1 and 10.8: a stream failing after its commit ends with one error event and
    no [DONE], charges the breaker, is not a client disconnect, and its attempt in the
    access line carries the failure (not `ok`)."""
    chunks, outcome = CUT_CASES[case]
    outcome = outcome or "malformed_response"
    lines = AccessLines().install(monkeypatch)
    handler, _ = stream_reply(chunks)
    chat, _ = build({"a": handler, "b": handler})
    client = await serve_ok(chat)
    assert client.status == 200 and client.complete
    assert DONE not in client.body_bytes
    assert error_code(client.body_bytes) == outcome
    assert lines.lines[-1]["outcome"] == outcome
    assert lines.lines[-1]["attempts"] == [("a", outcome)]
    assert not lines.lines[-1]["client_disconnected"]
    assert health(chat).state == "open", "fail_max 1: the failure must charge the breaker"


async def test_events_before_an_in_band_error_in_the_same_read_reach_the_client() -> None:
    """Issue 10.12: content, then an error event, in one upstream read."""
    handler, _ = stream_reply([CHUNK, CHUNK + CHUNK + ERROR + CHUNK])
    chat, _ = build({"a": handler, "b": handler})
    client = await serve_ok(chat)
    assert client.body_bytes.startswith(CHUNK * 3)
    parsed = events(client.body_bytes)
    assert len(parsed) == 4 and "error" in parsed[-1]
    assert DONE not in client.body_bytes


@pytest.mark.parametrize(("limit", "ok"), [(None, True), (1 << 20, False)])
async def test_one_event_is_bounded_by_max_response_bytes(limit: int | None, ok: bool) -> None:
    """Issue 10.11: a 2 MiB event (a generated image) streams under the default 32 MiB bound
    that also governs non-stream answers, and is refused above a smaller one."""
    image = {"choices": [{"index": 0, "delta": {"content": "x" * (2 << 20)}}]}
    big = b"data: " + orjson.dumps(image) + b"\n\n"
    handler, _ = stream_reply([CHUNK, big[: 1 << 20], big[1 << 20 :], DONE])
    server = "{}" if limit is None else f"{{max_response_bytes: {limit}}}"
    chat, _ = build({"a": handler, "b": handler}, server)
    client = await serve_ok(chat)
    if ok:
        assert client.body_bytes == CHUNK + big + DONE
    else:
        assert error_code(client.body_bytes) == "stream_error"
        assert len(client.body_bytes) < 1 << 20


async def test_comments_before_the_first_data_event_are_bounded_and_fall_back() -> None:
    """Issue 16.8: keep-alive comments before the first data event may not grow a buffer
    without bound; past server.max_precommit_bytes the attempt fails before the commit."""
    comments = [b": keep-alive " + b"x" * 1000 + b"\n\n"] * 300  # ~300 KiB
    primary, primary_bodies = stream_reply([*comments, CHUNK, DONE])
    backup, _ = stream_reply([CHUNK, DONE])
    chat, upstreams = build({"a": primary, "b": backup})
    client = await serve_ok(chat, "m")
    assert client.status == 200 and client.body_bytes == CHUNK + DONE
    assert upstreams.hits == {"a": 1, "b": 1}
    assert primary_bodies[0].closed.is_set()


async def test_malformed_first_event_falls_back() -> None:
    """Issue 10.1 before the commit: malformed upstream data is a fallback, not a 500."""
    bad = b'data: {"choices":[],"usage":{"prompt_tokens_details":[1]}}\n\n'
    primary, _ = stream_reply([bad, DONE])
    backup, _ = stream_reply([CHUNK, DONE])
    chat, upstreams = build({"a": primary, "b": backup})
    client = await serve_ok(chat, "m")
    assert client.status == 200 and client.body_bytes == CHUNK + DONE
    assert upstreams.hits == {"a": 1, "b": 1}


async def test_deadline_while_the_client_is_slow_ends_with_an_error_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 16.13: the request deadline fires while `send` waits on the client: a terminal
    error event, no stray CancelledError, not a disconnect, not the provider's fault."""
    lines = AccessLines().install(monkeypatch)
    handler, bodies = stream_reply([CHUNK, CHUNK, DONE])
    chat, _ = build({"a": handler, "b": handler}, "{request_timeout: 0.3}")
    client = Client(chat_body("solo", stream=True), block_at=2)  # start, first, then stuck
    async with asyncio.timeout(5):
        await run(chat, client)
    assert error_code(client.body_bytes) == "timeout"
    assert DONE not in client.body_bytes and client.complete
    assert lines.lines[-1]["outcome"] == "timeout"
    assert not lines.lines[-1]["client_disconnected"]
    assert health(chat).state == "closed", "a slow client is not the provider's failure"
    assert bodies[0].closed.is_set()


async def test_client_that_stops_reading_ends_its_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16.6: no byte taken for server.client_idle_timeout ends the stream: upstream
    closed, slot and probe released, outcome recorded, provider not charged."""
    lines = AccessLines().install(monkeypatch)
    handler, bodies = stream_reply([CHUNK, CHUNK, DONE], stall=False)
    chat, _ = build({"a": handler, "b": handler}, "{client_idle_timeout: 0.2}")
    health(chat).breaker.half_open()
    stuck = Client(chat_body("solo", stream=True), block_at=2)
    async with asyncio.timeout(5):
        await run(chat, stuck)
    assert bodies[0].closed.is_set()
    assert lines.lines[-1]["outcome"] == "client_idle"
    assert lines.lines[-1]["attempts"] == [("a", "client_idle")]
    assert not lines.lines[-1]["client_disconnected"]
    assert health(chat).state == "half-open", "not charged"
    client = await serve_ok(chat)  # the probe and the only pool slot are free
    assert client.body_bytes.endswith(DONE)


async def test_a_bug_of_ours_mid_stream_is_an_internal_error_event(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10.1: not a client disconnect, not the provider's fault; logged."""
    from proxy.providers import pipes

    lines = AccessLines().install(monkeypatch)
    original = pipes.PassthroughPipe.feed
    calls = []

    def feed(self: pipes.PassthroughPipe, raw: bytes) -> bytes:
        calls.append(raw)
        if len(calls) == 2:
            raise RuntimeError("a bug")
        return original(self, raw)

    monkeypatch.setattr(pipes.PassthroughPipe, "feed", feed)
    handler, _ = stream_reply([CHUNK, CHUNK, DONE])
    chat, _ = build({"a": handler, "b": handler})
    with caplog.at_level(logging.ERROR):
        client = await serve_ok(chat)
    assert error_code(client.body_bytes) == "internal_error"
    assert lines.lines[-1]["outcome"] == "internal_error"
    assert not lines.lines[-1]["client_disconnected"]
    assert health(chat).state == "closed"
    assert "a bug" in caplog.text


async def test_client_idle_while_the_error_event_waits_ends_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upstream fails, and the client takes no bytes of the error event either: the
    stream still ends (no stray cancellation), with the upstream's verdict kept."""
    lines = AccessLines().install(monkeypatch)
    handler, bodies = stream_reply([CHUNK, CHUNK])  # truncated: no [DONE]
    chat, _ = build({"a": handler, "b": handler}, "{client_idle_timeout: 0.2}")
    stuck = Client(chat_body("solo", stream=True), block_at=3)  # the error event's send
    async with asyncio.timeout(5):
        await run(chat, stuck)
    assert bodies[0].closed.is_set()
    assert lines.lines[-1]["outcome"] == "upstream_truncated"
    assert health(chat).state == "open"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
