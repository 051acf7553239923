"""http_limits: the parsed-size estimate, the body budget, refusal logging, raw answers."""

from __future__ import annotations

import logging
import resource

import orjson
import pytest

from proxy.config import ServerConfig
from proxy.http_errors import header_too_large, request_timeout
from proxy.http_limits import HttpGuard, HttpLimits, body_cost, raw_response


def _parsed_size(raw: bytes) -> int:
    import tracemalloc

    tracemalloc.start()
    value = orjson.loads(raw)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del value
    return size


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([{"role": "user", "content": "a"}] * 20000, id="tiny-messages"),
        pytest.param([[]] * 50000, id="empty-lists"),
        pytest.param([{}] * 50000, id="empty-dicts"),
        pytest.param([100000] * 50000, id="ints"),
        pytest.param(["ab"] * 50000, id="short-strings"),
        pytest.param("plain words, some commas. " * 20000, id="prose"),
    ],
)
def test_body_cost_covers_what_parsing_holds(value: object) -> None:
    raw = orjson.dumps({"model": "m", "messages": value})
    held = len(raw) + _parsed_size(raw)  # the bytes, and the objects made of them
    cost = body_cost(raw)
    assert cost >= 0.8 * held  # near or above what is held...
    assert cost <= 6 * held  # ...and not wildly above it


def test_body_cost_adds_up_over_chunks() -> None:
    raw = orjson.dumps({"messages": [{"role": "user", "content": "a, b"}] * 100})
    assert sum(body_cost(raw[i : i + 7]) for i in range(0, len(raw), 7)) == body_cost(raw)


def test_unread_bound_while_the_budget_is_under_half_then_the_estimate() -> None:
    guard = HttpGuard(_limits(max_buffered_bytes=100_000))
    prose = b"x" * 1000
    assert guard.charge_body(prose, 2000) == (True, 2000 + 32 * 1000)  # the bound, unread
    assert guard.charge_body(prose, 2000) == (True, 2000)  # past half: what it holds
    charged, cost = guard.charge_body(b"[]," * 30000, 0)
    assert (charged, cost) == (False, 32 * 60000)  # refused at its estimate
    assert guard.buffered == 2000 + 32 * 1000 + 2000


def _limits(**changes: object) -> HttpLimits:
    return HttpLimits.from_server(ServerConfig(**changes))  # type: ignore[arg-type]


def test_guard_charges_up_to_the_budget_and_releases() -> None:
    guard = HttpGuard(_limits(max_buffered_bytes=100))
    assert guard.charge(60)
    assert not guard.charge(41)  # refused: nothing reserved
    assert guard.buffered == 60
    assert guard.charge(40)
    guard.release(60)
    guard.release(40)
    assert guard.buffered == 0


def test_body_deadline_is_capped_by_the_request_deadline() -> None:
    assert _limits(body_timeout=30.0, request_timeout=5.0).body_timeout == 5.0
    assert _limits(body_timeout=3.0, request_timeout=5.0).body_timeout == 3.0


def test_max_connections_fits_half_the_descriptor_limit(caplog: pytest.LogCaptureFixture) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert _limits(max_connections=10).max_connections == 10
    if soft == resource.RLIM_INFINITY:
        return
    with caplog.at_level(logging.WARNING, logger="proxy.http"):
        assert _limits(max_connections=soft * 4).max_connections == soft // 2
    assert "max_connections" in caplog.text


def test_refusals_are_logged_at_most_every_ten_seconds(caplog: pytest.LogCaptureFixture) -> None:
    guard = HttpGuard(_limits())
    with caplog.at_level(logging.WARNING, logger="proxy.http"):
        for i in range(100):
            guard.refused("connection_limit", now=1000.0 + i * 0.01)
        guard.refused("header_timeout", now=1011.0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "refused 1 " in lines[0] and "connection_limit" in lines[0]
    assert "refused 100 " in lines[1] and "header_timeout" in lines[1]


@pytest.mark.parametrize(
    ("error", "status_line"),
    [
        (header_too_large(65536, 100), b"HTTP/1.1 431 Request Header Fields Too Large"),
        (request_timeout("body", 30), b"HTTP/1.1 408 Request Timeout"),
    ],
)
def test_raw_response_is_a_whole_closing_answer(error: object, status_line: bytes) -> None:
    data = raw_response(error)  # type: ignore[arg-type]
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == status_line
    assert b"connection: close" in lines
    assert f"content-length: {len(body)}".encode() in lines
    assert set(orjson.loads(body)["error"]) == {"message", "type", "param", "code"}
