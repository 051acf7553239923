"""Checklist B1-B9: streaming. B2-B7 run once per wire format (OpenAI, Anthropic, Gemini)
against one scripted fake, because their terminal semantics must be identical: before the
commit a failure falls back (or becomes a proper HTTP error); after it the client stream ends
with exactly one `data: {"error": ...}` event and no `data: [DONE]`, the breaker is charged
and no other provider is contacted.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.formats import FORMATS, OPENAI, WireFormat, words
from tests.fakes.scripted import Recorded, Script, ScriptedUpstream
from tests.resilience.harness import AUTH, Gateway, chat_body, log_text
from tests.resilience.toxic import Toxic
from tests.waiting import wait_until

Scripted = Callable[..., ScriptedUpstream]
Make = Callable[..., Gateway]
FULL = "".join(words(6))
BACKUP_STREAM = "w0 w1 w2 w3 w4 "  # FakeOpenAI's stream content with chunks=5
TRIP_ON_FIRST = {"fail_max": 1, "reset_timeout": 30}
# Events are spaced so the proxy reads them one by one: the stream commits on the first and
# the fault lands after the commit (in one TCP read, a fault could legitimately be caught
# before the commit and fall back instead).
GAP = 0.03
# Index of the first content event in each format's transcript (see formats.transcript).
CONTENT_OFFSET = {"openai": 1, "anthropic": 2, "gemini": 0}


def _setup(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    fmt: WireFormat,
    script: Script,
    **primary: Any,
) -> tuple[ScriptedUpstream, Any, Gateway]:
    """Scripted primary of format `fmt` (model "m": primary, then a healthy OpenAI secondary;
    model "solo": primary alone). The primary's breaker opens on its first charge."""
    fake = scripted(fmt, script)
    backup, backup_url = fake_openai(content="from secondary")
    options = {"breaker": TRIP_ON_FIRST, "ttfb_timeout": 2, **primary}
    gw = gateway(
        {"primary": fmt.provider(fake.url, **options), "secondary": OPENAI.provider(backup_url)},
        models={"m": ["primary", "secondary"], "solo": ["primary"]},
    )
    return fake, backup, gw


def _assert_fell_back(result: Any) -> None:
    assert result.status == 200, result.body
    assert result.headers["x-proxy-provider"] == "secondary"
    assert result.done and result.content == BACKUP_STREAM
    assert not result.error_events


def _assert_cut_in_band(result: Any, fmt: WireFormat) -> dict[str, Any]:
    """Post-commit failure: 200, some content, then exactly one error event, no [DONE]."""
    assert result.status == 200, result.body
    assert result.headers["x-proxy-provider"] == "primary"
    assert result.ended == "eof", "the stream must end (not hang, not a bare TCP cut)"
    assert not result.done_anywhere, "a cut stream must never carry [DONE]"
    errors = result.error_events
    assert len(errors) == 1, result.events
    assert result.parsed()[-1] == errors[0], "the error event must be the last event"
    error = errors[0]["error"]
    assert {"message", "type"} <= set(error)
    assert fmt.api_key not in result.body.decode("utf-8", "replace")
    assert FULL.startswith(result.content)
    return dict(error)


def _assert_charged_and_isolated(fake: ScriptedUpstream, backup: Any, gw: Gateway) -> None:
    """No second provider was contacted for the cut stream; the breaker was charged."""
    assert backup.hits == 0
    after = gw.stream()
    assert after.status == 200 and after.headers["x-proxy-provider"] == "secondary"
    assert fake.hits == 1, "fail_max 1: the cut stream must have opened the primary's breaker"


# --- B1 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b1_happy_stream_headers_and_events_forwarded_unbatched(
    scripted: Scripted, gateway: Make, fmt: WireFormat
) -> None:
    n = 20 if fmt is OPENAI else 10  # the checklist's 20 events; fewer for the others
    # Lock-step: the upstream event after content event k is held until the client has
    # content event k. A proxy that batched events would stall here (the read times out).
    offset = CONTENT_OFFSET[fmt.name]
    gates = {offset + k + 1: threading.Event() for k in range(n)}
    fake = scripted(fmt, Script(events=fmt.transcript(n), hold=gates))
    gw = gateway({"primary": fmt.provider(fake.url)})
    stream = gw.open_stream(timeout=5)
    seen = 0
    for _ in range(10 * n):  # bounded: every event of the transcript, and the terminator
        data = stream.next_event()
        if data is None:
            break
        if _has_content(data):
            gates[offset + seen + 1].set()
            seen += 1
    result = stream.result
    assert result.ended == "eof", result.ended
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["cache-control"] == "no-cache"
    assert result.headers["x-accel-buffering"] == "no"
    assert "content-length" not in result.headers
    assert result.done and not result.error_events
    assert result.content == "".join(words(n))
    assert seen == n


def _has_content(data: str) -> bool:
    chunk = json.loads(data) if data != "[DONE]" else {}
    return any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or [])


# --- B2 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b2_stream_error_status_falls_back_before_commit(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    fmt: WireFormat,
    status: int,
) -> None:
    fake, backup, gw = _setup(scripted, fake_openai, gateway, fmt, Script(status=status))
    _assert_fell_back(gw.stream())
    assert (fake.hits, backup.hits) == (1, 1)


@pytest.mark.parametrize(("status", "expected"), [(429, 429), (503, 502)])
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b2_stream_error_status_alone_is_http_error_not_200(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    fmt: WireFormat,
    status: int,
    expected: int,
) -> None:
    _fake, _, gw = _setup(scripted, fake_openai, gateway, fmt, Script(status=status))
    result = gw.stream(model="solo")
    assert result.status == expected, result.body
    assert result.headers["content-type"].startswith("application/json")
    error = result.json()["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    if status == 429:
        assert error["type"] == "rate_limit_error"
        assert "retry-after" in result.headers


# --- B3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b3_first_event_error_falls_back(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    script = Script(events=[fmt.first_error_event()])
    fake, backup, gw = _setup(scripted, fake_openai, gateway, fmt, script)
    _assert_fell_back(gw.stream())
    assert (fake.hits, backup.hits) == (1, 1)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b3_first_event_error_alone_is_http_error_not_200(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    script = Script(events=[fmt.ping(), fmt.first_error_event()])
    _, _, gw = _setup(scripted, fake_openai, gateway, fmt, script)
    result = gw.stream(model="solo")
    assert result.status >= 500, result.body
    assert result.headers["content-type"].startswith("application/json")
    assert "error" in result.json()


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b3_first_event_wait_bounded_pings_ignored(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    script = Script(events=[fmt.ping()] * 400, event_delay=0.05)  # 20 s of keep-alives only
    fake, _backup, gw = _setup(scripted, fake_openai, gateway, fmt, script, ttfb_timeout=0.5)
    result = gw.stream(within=0.5 + 2.0)  # the first-event wait ends, + slack
    _assert_fell_back(result)
    assert fake.wait_until(lambda: fake.requests[0].outcome == "disconnected", 2)


# --- B4-B6: post-commit cuts ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b4_stall_after_3_events_in_band_error_after_idle_timeout(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    fake, backup, gw = _setup(
        scripted,
        fake_openai,
        gateway,
        fmt,
        Script(stall_after=3, event_delay=GAP),
        idle_timeout=0.5,
    )
    result = gw.stream(within=3 * GAP + 0.5 + 2.0)  # the idle timeout fires, + slack
    error = _assert_cut_in_band(result, fmt)
    # Cut by the idle timeout (not the request deadline, not a malformed event).
    assert error["code"] == "timeout" and "the stream stalled" in error["message"], error
    # The upstream connection was closed by the proxy, not left open.
    assert fake.wait_until(lambda: fake.requests[0].outcome == "disconnected", 2)
    _assert_charged_and_isolated(fake, backup, gw)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b5_clean_close_mid_stream_truncated_error_at_once(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    fake, backup, gw = _setup(
        scripted, fake_openai, gateway, fmt, Script(close_after=3, event_delay=GAP), idle_timeout=10
    )
    result = gw.stream(within=2.0)  # at once, not after the 10 s idle timeout
    error = _assert_cut_in_band(result, fmt)
    assert error["code"] == "upstream_truncated"
    _assert_charged_and_isolated(fake, backup, gw)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b6_reset_mid_stream_in_band_error(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    fake, backup, gw = _setup(
        scripted, fake_openai, gateway, fmt, Script(reset_after=3, event_delay=GAP), idle_timeout=10
    )
    result = gw.stream(within=2.0)  # at once, not after the 10 s idle timeout
    _assert_cut_in_band(result, fmt)
    _assert_charged_and_isolated(fake, backup, gw)


def test_b6_reset_by_toxic_proxy_mid_event(
    fake_openai: Callable[..., Any], toxic: Callable[..., Toxic], gateway: Make
) -> None:
    """The RST comes from below HTTP and lands in the middle of an event."""
    upstream, upstream_url = fake_openai(chunks=40)
    backup, backup_url = fake_openai(content="from secondary")
    reset = toxic(int(upstream_url.rsplit(":", 1)[1]), mode="reset", after=700, after_headers=True)
    gw = gateway(
        {
            "primary": OPENAI.provider(reset.url, breaker=TRIP_ON_FIRST, idle_timeout=10),
            "secondary": OPENAI.provider(backup_url),
        }
    )
    result = gw.stream(within=2.0)  # at once, not after the 10 s idle timeout
    _assert_cut_in_band(result, OPENAI)
    assert backup.hits == 0
    after = gw.stream()
    assert after.headers["x-proxy-provider"] == "secondary"
    assert upstream.hits == 1


# --- B7: malformed SSE ---------------------------------------------------------------------


def _cr_only(event: bytes) -> bytes:
    return event.replace(b"\r\n", b"\r").replace(b"\n", b"\r")


def _malformed(fmt: WireFormat, kind: str) -> list[bytes]:
    events = fmt.transcript()
    head, tail = events[:3], events[3:]  # the fault comes after the stream committed
    if kind == "bad_json":
        return [*head, fmt.bad_json_event(), *tail]
    if kind == "huge_line":
        return [*head, fmt.huge_line_event(2 << 20), *tail]  # 2 MiB > the 1 MiB line cap
    if kind == "no_data":
        return [*head, fmt.no_data_event(), *tail]
    if kind == "cr_only_after_commit":
        return [*head, *(_cr_only(e) for e in tail)]
    if kind == "cr_only":
        return [_cr_only(e) for e in events]
    if kind == "comments":
        return [e for event in events for e in (fmt.ping(), event)]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["bad_json", "huge_line"])
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b7_invalid_event_mid_stream_in_band_error(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    fmt: WireFormat,
    kind: str,
) -> None:
    script = Script(events=_malformed(fmt, kind), event_delay=GAP)
    _fake, backup, gw = _setup(scripted, fake_openai, gateway, fmt, script)
    result = gw.stream(timeout=15)
    _assert_cut_in_band(result, fmt)
    if kind == "huge_line":
        assert len(result.body) < 1 << 20, "the line-length cap must stop the 2 MiB line"
    assert backup.hits == 0


@pytest.mark.parametrize("kind", ["comments", "cr_only", "cr_only_after_commit"])
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b7_valid_sse_variants_tolerated(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    fmt: WireFormat,
    kind: str,
) -> None:
    """Comments/pings and CR-only line ends are valid SSE (WHATWG): the answer is complete."""
    script = Script(events=_malformed(fmt, kind))
    _, _, gw = _setup(scripted, fake_openai, gateway, fmt, script)
    result = gw.stream()
    assert result.status == 200, result.body
    assert result.headers["x-proxy-provider"] == "primary"
    assert result.done and not result.error_events
    assert result.content == FULL


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b7_event_without_data_field_well_terminated(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    """A JSON line missing its `data:` prefix: ignored (per the SSE rules) or an in-band
    error; either way the stream ends with exactly one terminal, never both, never a hang."""
    script = Script(events=_malformed(fmt, "no_data"))
    _, _, gw = _setup(scripted, fake_openai, gateway, fmt, script)
    result = gw.stream()
    assert result.status == 200 and result.ended == "eof"
    assert result.well_terminated(), result.events


# --- B8: client disconnect -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_b8_client_disconnect_cancels_upstream_within_1s_not_charged(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, fmt: WireFormat
) -> None:
    script = Script(events=fmt.transcript(60), event_delay=0.1)  # a 6 s stream
    fake, backup, gw = _setup(scripted, fake_openai, gateway, fmt, script)
    stream = gw.open_stream()
    assert stream.result.status == 200
    for _ in range(3):
        assert stream.next_event() is not None
    stream.close()
    # The upstream attempt is cancelled within 1 s of the client's hang-up.
    assert fake.wait_until(lambda: fake.requests[0].outcome == "disconnected", 1.0)
    # Not charged (fail_max 1): the primary still serves the next request.
    fake.script = Script()
    after = gw.chat()
    assert after.status_code == 200 and after.headers["x-proxy-provider"] == "primary"
    assert backup.hits == 0


# --- B9: pool-leak guard -------------------------------------------------------------------


def _by_prompt(fmt: WireFormat) -> Callable[[Recorded], Script]:
    scripts = {
        "fail": Script(status=503),
        "limit": Script(status=429, headers={"retry-after": "0"}),
        "first_error": Script(events=[fmt.first_error_event()]),
        "truncate": Script(close_after=3),
        "stall": Script(stall_after=3),
        "ttfb": Script(delay_headers=30),
        "stream": Script(events=fmt.transcript(60), event_delay=0.05),
        "slow": Script(delay_headers=0.8),
        "ok": Script(),
    }

    def choose(record: Recorded) -> Script:
        return scripts[record.user_text()]

    return choose


def _abandon(gw: Gateway, body: bytes, fake: ScriptedUpstream) -> None:
    """Send a request and hang up once `fake` has it, without reading the answer."""
    hits = fake.hits
    host, port = gw.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {AUTH['authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        assert wait_until(lambda: fake.hits == hits + 1)


def _pool_pair(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, **primary: Any
) -> tuple[ScriptedUpstream, Gateway]:
    fake = scripted(OPENAI, choose=_by_prompt(OPENAI))
    _, backup_url = fake_openai(content="from secondary")
    options = {"max_connections": 1, "breaker": {"fail_max": 1000}, "ttfb_timeout": 2, **primary}
    gw = gateway(
        {"primary": OPENAI.provider(fake.url, **options), "secondary": OPENAI.provider(backup_url)}
    )
    return fake, gw


def test_b9_pool_leak_guard_max_connections_1_twenty_alternating_requests(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fake, gw = _pool_pair(scripted, fake_openai, gateway)
    for i in range(20):
        kind = ("fail", "stream", "ok")[i % 3]
        hits = fake.hits
        if kind == "fail":
            response = gw.chat(content="fail")
            assert response.status_code == 200, (i, response.text)
            assert response.headers["x-proxy-provider"] == "secondary"
        elif kind == "stream":
            stream = gw.open_stream(content="stream")
            assert stream.result.status == 200, i
            assert stream.result.headers["x-proxy-provider"] == "primary", i
            for _ in range(3):
                assert stream.next_event() is not None
            stream.close()
        else:
            response = gw.chat(content="ok")
            assert response.status_code == 200, (i, response.text)
            assert response.headers["x-proxy-provider"] == "primary", (i, "pool leaked")
        assert fake.hits == hits + 1, (i, kind, "the primary must have been reached")
    assert "PoolTimeout" not in log_text(caplog.records)


def test_b9_pool_leak_guard_every_release_path(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With one pooled connection, every way an attempt can end must give it back."""
    caplog.set_level(logging.INFO)
    fake, gw = _pool_pair(scripted, fake_openai, gateway, ttfb_timeout=1, idle_timeout=0.3)
    kinds = ["fail", "limit", "first_error", "truncate", "stall", "ttfb", "stream", "slow", "ok"]
    for round_ in range(2):
        for kind in kinds:
            where = (round_, kind)
            if kind in ("fail", "limit", "ttfb"):
                response = gw.chat(content=kind)
                assert response.status_code == 200, (where, response.text)
                assert response.headers["x-proxy-provider"] == "secondary", where
            elif kind == "first_error":
                result = gw.stream(content=kind)
                assert result.done and result.headers["x-proxy-provider"] == "secondary", where
            elif kind in ("truncate", "stall"):
                result = gw.stream(content=kind)
                assert result.headers["x-proxy-provider"] == "primary", where
                assert len(result.error_events) == 1 and not result.done_anywhere, where
            elif kind == "stream":
                stream = gw.open_stream(content=kind)
                assert stream.result.headers["x-proxy-provider"] == "primary", where
                stream.next_event()
                stream.close()
            elif kind == "slow":
                _abandon(gw, chat_body(content="slow"), fake)
            else:
                response = gw.chat(content="ok")
                assert response.status_code == 200, (where, response.text)
                assert response.headers["x-proxy-provider"] == "primary", (where, "pool leaked")
    final = gw.chat(content="ok")
    assert final.headers["x-proxy-provider"] == "primary"
    assert "PoolTimeout" not in log_text(caplog.records)
