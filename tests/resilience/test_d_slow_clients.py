"""Checklist D6-D8 and issue 16 (items 1, 5, 7, 9): what a client can make the proxy spend
before its request is whole: header bytes and fields, time to finish headers and body,
connections, and the connection state after an answer sent before the body was read."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.resilience.harness import Gateway, Metrics, chat_body, log_text, wait_for
from tests.resilience.raw_http import (
    RawResponse,
    chat_head,
    closed_by_peer,
    connect,
    read_response,
    send_until_answered,
)

Make = Callable[..., Gateway]
MOCK = {"mock": {"type": "mock"}}


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def _rejected(gw: Gateway, reason: str) -> float:
    """proxy_rejected_total{reason} (the registry is shared by every proxy in this process)."""
    text = httpx.get(f"{gw.url}/metrics", timeout=5, headers={"connection": "close"}).text
    return Metrics(text).value("proxy_rejected_total", reason=reason)


def _healthy(gw: Gateway) -> None:
    assert gw.get("/health/live").status_code == 200
    assert gw.chat().status_code == 200


# --- item 1 / D8: header bytes and fields -----------------------------------------------------


def _many_small_headers(total: int) -> list[bytes]:
    line = b"X-Pad: abcdefgh\r\n"
    piece = line * (65536 // len(line))
    return [piece] * (total // len(piece))


def _one_huge_value(total: int) -> list[bytes]:
    return [b"X-Big: "] + [b"a" * 65536] * (total // 65536)


@pytest.mark.parametrize("pieces", [_many_small_headers, _one_huge_value], ids=["small", "huge"])
def test_unbounded_headers_get_431_after_the_limit_in_linear_time(
    gateway: Make, sockets: list[socket.socket], pieces: Callable[[int], list[bytes]]
) -> None:
    gw = gateway(MOCK)  # the defaults: 64 KiB
    before = _rejected(gw, "header_too_large")
    sock = connect(gw.url)
    sockets.append(sock)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    sent, stopped = send_until_answered(sock, pieces(16 << 20))
    assert stopped, "16 MiB of headers were all taken"
    assert sent < 4 << 20  # refused near the limit, not after the whole head
    response = read_response(sock)
    assert response is not None and response.status == 431
    assert response.headers["connection"] == "close"
    assert b"request_header_too_large" in response.body
    assert closed_by_peer(sock, 5)
    _healthy(gw)
    assert _rejected(gw, "header_too_large") - before == 1


@pytest.mark.parametrize(
    ("header", "status"),
    [
        pytest.param("X-Pad: " + "a" * 20_000, 431, id="20KiB-over-16KiB"),
        pytest.param("X-Pad: " + "a" * 15_000, 200, id="15KiB-under-16KiB"),
        pytest.param("\r\n".join(f"X-H{i}: v" for i in range(60)), 431, id="60-fields-over-50"),
        pytest.param("\r\n".join(f"X-H{i}: v" for i in range(40)), 200, id="40-fields-under-50"),
    ],
)
def test_d8_header_limits_from_config(
    gateway: Make, sockets: list[socket.socket], header: str, status: int
) -> None:
    gw = gateway(MOCK, server={"max_header_bytes": 16384, "max_headers": 50})
    sock = connect(gw.url)
    sockets.append(sock)
    body = chat_body()
    sock.sendall(chat_head(len(body), header) + body)
    response = read_response(sock)
    assert response is not None and response.status == status
    _healthy(gw)


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", id="cr-in-value"),
        pytest.param(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\n\r\n", id="bare-lf"),
        pytest.param(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            id="cl-and-te",
        ),
    ],
)
def test_d8_malformed_heads_are_refused_and_the_process_stays_healthy(
    gateway: Make, sockets: list[socket.socket], request_bytes: bytes
) -> None:
    gw = gateway(MOCK)
    sock = connect(gw.url)
    sockets.append(sock)
    sock.sendall(request_bytes)
    response = read_response(sock)
    assert response is None or response.status == 400
    assert closed_by_peer(sock, 5)
    _healthy(gw)


# --- item 7 / D6: slowloris and the connection limit ------------------------------------------


def test_d6_idle_and_trickling_connections_closed_at_header_deadline(
    gateway: Make, sockets: list[socket.socket]
) -> None:
    gw = gateway(MOCK, server={"header_timeout": 1})
    before = _rejected(gw, "header_timeout")
    idle = [connect(gw.url) for _ in range(200)]
    tricklers = [connect(gw.url) for _ in range(50)]
    sockets.extend(idle + tricklers)
    for sock in tricklers:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    stop = threading.Event()

    def trickle() -> None:  # a header line every 0.2 s, for at most 10 s
        for i in range(50):
            if stop.wait(0.2):
                return
            for sock in tricklers:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-%d: y\r\n" % i)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        _healthy(gw)  # while they hang on, normal requests are served
        for sock in idle:
            assert closed_by_peer(sock, 10)
        for sock in tricklers:
            response = read_response(sock, 10)
            assert response is not None and response.status == 408
            assert closed_by_peer(sock, 5)
    finally:
        stop.set()
        thread.join(5)
    _healthy(gw)
    assert _rejected(gw, "header_timeout") - before == 250


def test_keep_alive_blank_lines_do_not_hold_a_connection(
    gateway: Make, sockets: list[socket.socket]
) -> None:
    gw = gateway(MOCK)
    sock = connect(gw.url)
    sockets.append(sock)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    response = read_response(sock)
    assert response is not None and response.status == 200
    started = time.monotonic()
    closed = False
    while not closed and time.monotonic() - started < 15:  # uvicorn's keep-alive is 5 s
        try:
            sock.sendall(b"\r\n")
        except OSError:
            closed = True
            break
        closed = closed_by_peer(sock, 0.3)
    assert closed


def test_connection_limit_evicts_the_connection_idle_longest(
    gateway: Make, sockets: list[socket.socket]
) -> None:
    """A flood of connections that send nothing cannot lock out a client (or a health probe)
    that sends its request at once."""
    gw = gateway(MOCK, server={"max_connections": 4})
    gw.client.close()  # its pooled keep-alive connection would count
    before = _rejected(gw, "connection_evicted")
    idle = [connect(gw.url) for _ in range(4)]
    sockets.extend(idle)
    assert _status_on_new_connection(gw, sockets) == 200
    assert closed_by_peer(idle[0], 5)  # the oldest made room
    assert _rejected(gw, "connection_evicted") - before >= 1


def test_connection_limit_refuses_with_503_log_and_metric_when_all_are_busy(
    gateway: Make, sockets: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    gw = gateway(MOCK, server={"max_connections": 4, "body_timeout": 60})
    gw.client.close()
    before = _rejected(gw, "connection_limit")
    for _ in range(4):  # each with a request in progress: its body is being read
        sock = connect(gw.url)
        sockets.append(sock)
        sock.sendall(chat_head(100, "Expect: 100-continue"))
        interim = read_response(sock)
        assert interim is not None and interim.status == 100
    with caplog.at_level(logging.WARNING, logger="proxy.http"):
        response = _response_on_new_connection(gw, sockets)
        assert response is not None and response.status == 503
        assert response.headers["retry-after"] == "1"
        assert b"too_many_connections" in response.body
        assert wait_for(lambda: "connection_limit" in log_text(caplog.records))
    for sock in sockets:
        sock.close()
    # The freed slots admit again (once the proxy has seen the closes).
    assert wait_for(lambda: _status_on_new_connection(gw, sockets) == 200, timeout=5)
    assert _rejected(gw, "connection_limit") - before >= 1  # (and any retry above)


def _response_on_new_connection(gw: Gateway, sockets: list[socket.socket]) -> RawResponse | None:
    sock = connect(gw.url)
    sockets.append(sock)
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    except OSError:
        return None
    return read_response(sock)


def _status_on_new_connection(gw: Gateway, sockets: list[socket.socket]) -> int | None:
    response = _response_on_new_connection(gw, sockets)
    return response.status if response else None


# --- item 5 / D7: the body deadline -----------------------------------------------------------


@pytest.mark.parametrize("server", [{"request_timeout": 1}, {"body_timeout": 1}])
def test_d7_stalled_bodies_get_408_and_free_their_in_flight_slots(
    gateway: Make, sockets: list[socket.socket], server: dict[str, Any]
) -> None:
    gw = gateway(MOCK, server={"max_in_flight": 3, **server})
    before = _rejected(gw, "body_timeout")
    stalled = [connect(gw.url) for _ in range(3)]
    sockets.extend(stalled)
    for sock in stalled:
        sock.sendall(chat_head(1000) + b'{"model": "m", ')  # 985 bytes never come
    for sock in stalled:
        response = read_response(sock, 10)
        assert response is not None and response.status == 408
        assert response.headers["connection"] == "close"
        assert b"request_timeout" in response.body
    assert gw.chat().status_code == 200  # every slot was released
    assert _rejected(gw, "body_timeout") - before == 3


def test_d7_trickled_body_is_cut_at_the_deadline(
    gateway: Make, sockets: list[socket.socket]
) -> None:
    gw = gateway(MOCK, server={"body_timeout": 1})
    sock = connect(gw.url)
    sockets.append(sock)
    body = chat_body()
    sock.sendall(chat_head(len(body)))
    for byte in body:  # one byte every 0.1 s: the whole body would take seconds
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        if select.select([sock], [], [], 0.1)[0]:  # answered (or closed)
            break
    response = read_response(sock, 5)
    assert response is not None and response.status == 408
    _healthy(gw)


# --- item 9: answers sent before the body was read --------------------------------------------


@pytest.mark.parametrize(
    ("auth", "length", "status"),
    [
        pytest.param("Bearer wrong", 60, 401, id="401"),
        pytest.param(None, 50 << 20, 413, id="413"),
    ],
)
def test_expect_100_continue_then_early_answer_closes_the_connection(
    gateway: Make, sockets: list[socket.socket], auth: str | None, length: int, status: int
) -> None:
    gw = gateway(MOCK)
    sock = connect(gw.url)
    sockets.append(sock)
    sock.sendall(chat_head(length, "Expect: 100-continue", auth=auth))
    response = read_response(sock)
    assert response is not None and response.status == status
    assert response.headers.get("connection") == "close"
    # The client may now send its next request instead of the body: it must not be taken
    # as the body of the first. The proxy has closed: nothing is swallowed.
    with contextlib.suppress(OSError):
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed_by_peer(sock, 5)


def test_early_answer_while_the_body_is_sent_is_read_whole(
    gateway: Make, sockets: list[socket.socket]
) -> None:
    """Without Expect, the client is sending its body: the proxy answers, drains the body,
    then closes, so the answer is not lost to a reset."""
    gw = gateway(MOCK)
    sock = connect(gw.url)
    sockets.append(sock)
    body = chat_body(content="x" * (4 << 20))
    sock.sendall(chat_head(len(body), auth="Bearer wrong"))
    sent, _ = send_until_answered(sock, [body[i : i + 65536] for i in range(0, len(body), 65536)])
    response = read_response(sock)
    assert response is not None and response.status == 401
    assert response.headers.get("connection") == "close"
    for i in range(sent, len(body), 65536):  # the rest of the body is still taken
        sock.sendall(body[i : i + 65536])
    assert closed_by_peer(sock, 5)
