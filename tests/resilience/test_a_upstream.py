"""Checklist A1-A11: upstream failures of non-stream (and pre-commit stream) requests.

Every case runs the real proxy on 127.0.0.1 against fakes on loopback. "Breaker charged" is
shown by behaviour: with `fail_max: 1` one charge opens the breaker, so the next request
skips the provider without touching it; "not charged" means the next request reaches it.
"""

from __future__ import annotations

import email.utils
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from proxy.errors import parse_retry_after
from tests.fakes.formats import ANTHROPIC, FORMATS, OPENAI, PROVIDER_KEY, WireFormat
from tests.fakes.scripted import Recorded, Script, ScriptedUpstream
from tests.resilience.harness import Gateway, assert_openai_error, log_text
from tests.resilience.toxic import Toxic
from tests.servers import free_port
from tests.waiting import wait_until

TRIP_ON_FIRST = {"fail_max": 1, "reset_timeout": 30}
Scripted = Callable[..., ScriptedUpstream]
Make = Callable[..., Gateway]


def _pair(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    script: Script,
    fmt: WireFormat = OPENAI,
    primary: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
) -> tuple[ScriptedUpstream, Any, Gateway]:
    """A scripted primary (model "m": primary then a healthy secondary; "solo": primary)."""
    fake = scripted(fmt, script)
    backup, backup_url = fake_openai(content="from secondary")
    options = {"breaker": TRIP_ON_FIRST, **(primary or {})}
    gw = gateway(
        {"primary": fmt.provider(fake.url, **options), "secondary": OPENAI.provider(backup_url)},
        models={"m": ["primary", "secondary"], "solo": ["primary"]},
        server=server,
    )
    return fake, backup, gw


def _served_by(response: Any, provider: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["x-proxy-provider"] == provider


# --- A1: 429 and Retry-After --------------------------------------------------------------


def _header(value: str) -> str:
    """Retry-After as sent; "date:+7" is an HTTP-date 7 s from now (made when sent)."""
    if value.startswith("date:"):
        return email.utils.formatdate(time.time() + float(value[5:]), usegmt=True)
    return value


RETRY_AFTER_CASES = [
    # value, what the proxy must make of it, server.max_cooldown
    pytest.param("7", "cooldown", 300, id="seconds"),
    pytest.param("date:+7", "cooldown", 300, id="http-date"),
    pytest.param("date:-3600", "zero", 300, id="past-date"),
    pytest.param("-5", "zero", 300, id="negative"),
    pytest.param("99999999", "cap", 1.0, id="huge"),
    pytest.param("soon", "default", 300, id="garbage"),
    pytest.param("nan", "default", 300, id="nan"),
]


@pytest.mark.parametrize(("value", "expect", "cap"), RETRY_AFTER_CASES)
def test_a1_rate_limited_primary_cools_down_and_falls_back_at_once(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    value: str,
    expect: str,
    cap: float,
) -> None:
    fake, backup, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(status=429, headers={"retry-after": _header(value)}),
        server={"max_cooldown": cap},
    )
    first = gw.chat_within(2.0)  # the same request fell back at once: nobody slept for the
    _served_by(first, "secondary")  # Retry-After (a 7 s or capped sleep would time out here)
    assert (fake.hits, backup.hits) == (1, 1)

    second = gw.chat()
    _served_by(second, "secondary")
    if expect == "zero":
        # Cooldown 0: the primary is tried again, and the 429 did not charge its breaker
        # (fail_max is 1, so a charge would have opened it).
        assert fake.hits == 2
        gw.chat()
        assert fake.hits == 3
        return
    assert fake.hits == 1  # cooling down: no request reaches the primary
    if expect in ("cap", "default"):
        # The cooldown ends (capped, or the 1 s default back-off): requests reach the primary
        # again, and each 429 falls back to the secondary.
        cooldown = cap if expect == "cap" else 1.0

        def reached_primary() -> bool:
            _served_by(gw.chat(), "secondary")
            return fake.hits == 2

        assert wait_until(reached_primary, cooldown + 2)


@pytest.mark.parametrize(("value", "expect", "cap"), RETRY_AFTER_CASES)
def test_a1_all_rate_limited_is_429_with_retry_after_within_cap(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    value: str,
    expect: str,
    cap: float,
) -> None:
    fake, _, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(status=429, headers={"retry-after": _header(value)}),
        server={"max_cooldown": cap},
    )
    response = gw.chat_within(2.0, model="solo")  # at once, not after the Retry-After
    error = assert_openai_error(response, 429)
    assert error["type"] == "rate_limit_error"
    assert "retry-after" in response.headers, "a 429 to the client must carry Retry-After"
    retry_after = int(response.headers["retry-after"])
    assert 0 <= retry_after <= math.ceil(cap)
    if expect == "cooldown":
        assert 5 <= retry_after <= 8
    elif expect == "default":
        assert retry_after == 1
    assert fake.hits == 1


NOW = 2_000_000_000.0  # 2033: the 2015 date below is in the past


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # long past
        (email.utils.formatdate(NOW + 60, usegmt=True), 60.0),
        ("soon", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_a1_retry_after_parser_table(value: str | None, seconds: float | None) -> None:
    parsed = parse_retry_after(value, now=NOW)
    if seconds is None:
        assert parsed is None
    else:
        assert parsed == pytest.approx(seconds, abs=1.0)


# --- A2: spend limit and 529 -----------------------------------------------------------------


SPEND_LIMIT_BODIES = [
    pytest.param(
        OPENAI,
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
        id="openai-insufficient_quota",
    ),
    pytest.param(
        ANTHROPIC,
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "You have reached your specified API usage limits.",
                "details": {"error_code": "enforced_spend_limit_reached"},
            },
        },
        id="anthropic-enforced_spend_limit_reached",
    ),
]


@pytest.mark.parametrize(("fmt", "body"), SPEND_LIMIT_BODIES)
def test_a2_spend_limit_long_cooldown_no_retry_fallback(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    fmt: WireFormat,
    body: dict[str, Any],
) -> None:
    fake, _backup, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(status=429, body=orjson.dumps(body)),  # no Retry-After
        fmt=fmt,
        primary={"retries": 2, "retry_backoff": 0.01},
    )
    _served_by(gw.chat(), "secondary")
    assert fake.hits == 1  # no retry on that provider, even with retries configured
    for _ in range(3):
        _served_by(gw.chat(), "secondary")
    assert fake.hits == 1
    response = gw.chat(model="solo")  # every deployment now cooling down
    assert response.status_code in (429, 503), response.text
    assert int(response.headers["retry-after"]) >= 60  # a long cooldown, not seconds
    assert fake.hits == 1


def test_a2_529_overloaded_charges_breaker_and_falls_back(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    fake, backup, gw = _pair(scripted, fake_openai, gateway, Script(status=529), fmt=ANTHROPIC)
    _served_by(gw.chat(), "secondary")
    assert (fake.hits, backup.hits) == (1, 1)
    _served_by(gw.chat(), "secondary")
    assert fake.hits == 1  # fail_max 1: the 529 opened the breaker


# --- A3: 5xx --------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "retries"), [(500, 0), (502, 0), (503, 0), (504, 0), (503, 2)])
def test_a3_5xx_falls_back_within_max_attempts(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    status: int,
    retries: int,
) -> None:
    fake, backup, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(status=status),
        primary={"retries": retries, "retry_backoff": 0.01, "breaker": {"fail_max": 10}},
    )
    response = gw.chat()
    _served_by(response, "secondary")
    assert response.json()["choices"][0]["message"]["content"] == "from secondary"
    assert fake.hits == 1 + retries  # max_attempts = 1 + retries, never more
    assert backup.hits == 1
    assert response.headers["x-proxy-attempts"] == str(2 + retries)


# --- A4: client errors -------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a4_client_error_no_fallback_no_retry_not_charged(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, status: int
) -> None:
    body = {
        "error": {
            "message": f"This model's maximum context length is 10 tokens (key {PROVIDER_KEY}).",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    fake, backup, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(status=status, body=orjson.dumps(body)),
        primary={"retries": 2},
    )
    for expected_hits in (1, 2):
        response = gw.chat()
        error = assert_openai_error(response, status)
        assert "maximum context length" in error["message"]
        assert PROVIDER_KEY not in response.text
        assert fake.hits == expected_hits  # no retry; and not charged (fail_max 1)
    assert backup.hits == 0


# --- A5: provider key rejected ----------------------------------------------------------


def _echo_headers(status: int, fmt: WireFormat) -> Callable[[Recorded], Script]:
    def choose(record: Recorded) -> Script:
        echoed = f"invalid credentials: you sent {record.headers} to {record.path}"
        return Script(status=status, body=fmt.error_body(status, echoed))

    return choose


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_a5_provider_auth_failure_falls_back_never_leaks_key(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    caplog: pytest.LogCaptureFixture,
    fmt: WireFormat,
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = scripted(fmt, choose=_echo_headers(status, fmt))
    _backup, backup_url = fake_openai(content="from secondary")
    gw = gateway(
        {
            "primary": fmt.provider(fake.url, breaker=TRIP_ON_FIRST),
            "secondary": OPENAI.provider(backup_url),
        },
        models={"m": ["primary", "secondary"], "solo": ["primary"]},
    )
    _served_by(gw.chat(), "secondary")
    assert fake.requests[0].headers  # the fake did see (and echo) the provider key
    alone = gw.chat(model="solo")
    assert alone.status_code == 502, alone.text
    assert fake.hits == 2  # a bad key does not charge the breaker (fail_max 1)
    for text in (alone.text, str(alone.headers), log_text(caplog.records)):
        assert fmt.api_key not in text
        assert fmt.api_key[:12] not in text


# --- A6 / A7: connect failures -------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("refused", id="A6-refused"),
        pytest.param("http://does-not-exist.invalid/v1", id="A7-dns"),
    ],
)
def test_a6_a7_connect_failure_charges_breaker_and_falls_back(
    fake_openai: Callable[..., Any], gateway: Make, base_url: str
) -> None:
    if base_url == "refused":  # a port picked now, with nothing listening on it
        base_url = f"http://127.0.0.1:{free_port()}/v1"
    _backup, backup_url = fake_openai(content="from secondary")
    down = {
        "type": "openai",
        "base_url": base_url,
        "api_key": PROVIDER_KEY,
        "connect_timeout": 2,
        "breaker": TRIP_ON_FIRST,
    }
    gw = gateway(
        {"primary": down, "lonely": dict(down), "secondary": OPENAI.provider(backup_url)},
        models={"m": ["primary", "secondary"], "solo": ["lonely"]},
    )
    first = gw.chat()
    _served_by(first, "secondary")
    assert first.headers["x-proxy-attempts"] == "2"
    second = gw.chat()
    _served_by(second, "secondary")
    assert second.headers["x-proxy-attempts"] == "1"  # primary skipped: breaker charged
    # Within the checklist's 100 ms per refused attempt, 5x for a busy box.
    alone = gw.chat_within(0.5, model="solo")
    error = assert_openai_error(alone, 502)
    assert "connect_error" in error["message"]


def test_a6_connection_refused_attempt_is_fast(gateway: Make) -> None:
    gw = gateway(
        {
            "primary": {
                "type": "openai",
                "base_url": f"http://127.0.0.1:{free_port()}/v1",
                "api_key": PROVIDER_KEY,
                "breaker": {"fail_max": 100},
            }
        }
    )
    for _ in range(5):
        # Within the checklist's 100 ms per refused attempt, 5x for a busy box.
        assert_openai_error(gw.chat_within(0.1 * 5), 502)


# --- A8: TTFB ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
def test_a8_ttfb_timeout_cancels_closes_and_falls_back(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make, stream: bool
) -> None:
    fake, _backup, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(delay_headers=30),
        primary={"ttfb_timeout": 0.3},
        server={"request_timeout": 10},
    )
    # Answered by the TTFB timeout + slack, from the secondary.
    if stream:
        result = gw.stream(within=0.3 + 2.0)
        assert result.status == 200 and result.done
        assert result.headers["x-proxy-provider"] == "secondary"
    else:
        _served_by(gw.chat_within(0.3 + 2.0), "secondary")
    # The attempt was cancelled and its upstream socket closed, not left hanging for the
    # 30 s the fake would have waited.
    assert fake.wait_until(lambda: fake.requests[0].outcome == "disconnected", 1.5)


def test_a8_accepts_but_never_answers_bounded_by_deadline(
    fake_openai: Callable[..., Any], toxic: Callable[..., Toxic], gateway: Make
) -> None:
    _backup, backup_url = fake_openai()
    silent = toxic(int(backup_url.rsplit(":", 1)[1]), mode="stall", after=0)
    gw = gateway(
        {"primary": OPENAI.provider(silent.url, ttfb_timeout=30)},
        server={"request_timeout": 0.5},
    )
    assert_openai_error(gw.chat_within(0.5 + 1.5), 504)  # by the deadline, + slack
    assert wait_until(lambda: len(silent.client_closed_at) == 1, 3)  # the proxy hung up


# --- A9: slow drip -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a9_slow_drip_non_stream_cut_by_request_deadline(
    fake_openai: Callable[..., Any], toxic: Callable[..., Toxic], gateway: Make, where: str
) -> None:
    _backup, backup_url = fake_openai()
    # 1 byte every 0.25 s: under the 0.4 s idle timeout, so only the total deadline can fire.
    drip = toxic(
        int(backup_url.rsplit(":", 1)[1]),
        mode="drip",
        after=0,
        after_headers=where == "body",
        slice=1,
        latency=0.25,
    )
    gw = gateway(
        {"primary": OPENAI.provider(drip.url, ttfb_timeout=30, idle_timeout=0.4)},
        server={"request_timeout": 1.5},
    )
    assert_openai_error(gw.chat_within(1.5 + 1.5), 504)  # by the deadline, + slack


def test_a9_slow_drip_stream_cut_by_request_deadline(
    fake_openai: Callable[..., Any], toxic: Callable[..., Toxic], gateway: Make
) -> None:
    _backup, backup_url = fake_openai(chunks=50)
    drip = toxic(
        int(backup_url.rsplit(":", 1)[1]),
        mode="drip",
        after=700,  # the first events pass (the stream commits), then the drip starts
        after_headers=True,
        slice=1,
        latency=0.25,
    )
    gw = gateway(
        {"primary": OPENAI.provider(drip.url, ttfb_timeout=30, idle_timeout=0.4)},
        server={"request_timeout": 1.5},
    )
    result = gw.stream(timeout=10, within=1.5 + 1.5)  # by the deadline, + slack
    assert result.status == 200
    assert result.ended == "eof"
    assert not result.done_anywhere
    assert len(result.error_events) == 1 and result.well_terminated()


# --- A10: malformed JSON ---------------------------------------------------------------


MARKER = "UPSTREAM-BODY-MARKER-7f3a"
MALFORMED_BODIES = [
    pytest.param(
        b"<html><head><title>502 Bad Gateway</title></head><body>"
        + b"<p>nginx</p>" * 2000
        + MARKER.encode()
        + b"</body></html>",
        "text/html",
        id="html-page",
    ),
    pytest.param(
        b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, '
        b'"message": {"role": "assistant", "content": "' + MARKER.encode(),
        "application/json",
        id="truncated-json",
    ),
    pytest.param(
        b'{"unexpected": "' + MARKER.encode() + b'"}', "application/json", id="no-choices"
    ),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
def test_a10_malformed_json_502_no_raw_body_breaker_charged(
    scripted: Scripted,
    fake_openai: Callable[..., Any],
    gateway: Make,
    body: bytes,
    content_type: str,
) -> None:
    fake, _backup, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(body=body, headers={"content-type": content_type}),
    )
    response = gw.chat(model="solo")
    error = assert_openai_error(response, 502)
    assert error["type"] == "server_error"
    assert MARKER not in response.text
    assert len(response.content) < 1024  # a short excerpt at most
    # Charged: fail_max 1 opened the breaker, so the next request skips the primary.
    _served_by(gw.chat(), "secondary")
    assert fake.hits == 1


# --- A11: oversized response -----------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_a11_oversized_response_aborted_at_cap_memory_bounded(
    scripted: Scripted, fake_openai: Callable[..., Any], gateway: Make
) -> None:
    pad = b"x" * 65536

    def huge() -> Any:
        yield b'{"id": "chatcmpl-big", "choices": [{"message": {"content": "'
        for _ in range(1024):  # 64 MiB, never held in memory by the fake
            yield pad
        yield b'"}}]}'

    fake, _, gw = _pair(
        scripted,
        fake_openai,
        gateway,
        Script(body_chunks=huge),
        server={"max_response_bytes": 1 << 20},
    )
    baseline = _rss()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):  # a sampling period, until the request is answered
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        response = gw.chat_within(10, model="solo")
    finally:
        stop.set()
        sampler.join(2)
    error = assert_openai_error(response, 502)
    assert error["code"] == "upstream_error"
    assert "(primary: response_too_large)" in error["message"]
    # The read was aborted near the cap: the fake could not push the whole 64 MiB.
    assert fake.wait_until(lambda: fake.requests[0].ended_at is not None, 3)
    assert fake.requests[0].bytes_sent < 16 << 20
    assert peak[0] - baseline < 48 << 20
