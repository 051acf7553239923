"""Issue 16 item 8: request bodies held at once are bounded per worker
(`server.max_buffered_bytes`), counted at their parsed size: beyond it 503 + Retry-After,
a body that could never fit 413, and what a request held is released when it ends."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import orjson
import pytest

from tests.resilience.harness import Gateway, chat_body, wait_for
from tests.resilience.raw_http import chat_head, closed_by_peer, connect, read_response

Make = Callable[..., Gateway]
BUDGET = 400_000  # bytes of estimated memory
PROSE = "plain words without punctuation " * 3000  # ~96 KB, costs ~2x its size


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


@pytest.fixture
def gw(gateway: Make) -> Gateway:
    return gateway({"mock": {"type": "mock"}}, server={"max_buffered_bytes": BUDGET})


def _rejected(gw: Gateway, reason: str) -> float:
    return gw.metrics().value("proxy_rejected_total", reason=reason)


def test_bodies_beyond_the_budget_get_503_until_it_frees(
    gw: Gateway, sockets: list[socket.socket]
) -> None:
    before = _rejected(gw, "body_memory")
    # A declared body is reserved at its headers: 2 x 150 000 of the 400 000.
    holder = connect(gw.url)
    sockets.append(holder)
    # Its reservation must be in place before the first probe below: a probe still being
    # read when the holder's head arrived would get the holder refused instead. The app
    # asks for the body (uvicorn's 100 Continue) only once the head was admitted.
    holder.sendall(chat_head(150_000, "Expect: 100-continue"))
    assert holder.recv(64).startswith(b"HTTP/1.1 100 Continue")
    holder.sendall(b'{"model": "m", ')  # and then nothing more
    assert wait_for(lambda: gw.chat(content=PROSE).status_code == 503, timeout=10)
    refused = gw.chat(content=PROSE)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "overloaded"
    assert gw.chat().status_code == 200  # a small body still fits beside it
    assert _rejected(gw, "body_memory") - before >= 2
    holder.close()  # its reservation is released with its connection
    assert wait_for(lambda: gw.chat(content=PROSE).status_code == 200, timeout=10)


def test_a_body_that_alone_exceeds_the_budget_is_413_and_drained(
    gw: Gateway, sockets: list[socket.socket]
) -> None:
    """Tiny JSON values: 60 KB of them parse into ~700 KB of objects."""
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "a"}] * 2000})
    assert len(body) < BUDGET // 4
    before = _rejected(gw, "body_too_costly")
    sock = connect(gw.url)
    sockets.append(sock)
    sock.sendall(chat_head(len(body)) + body)
    response = read_response(sock)
    assert response is not None and response.status == 413
    assert response.headers["connection"] == "close"
    assert b"request_too_large" in response.body
    assert closed_by_peer(sock, 5)
    assert _rejected(gw, "body_too_costly") - before == 1
    assert gw.chat(content=PROSE).status_code == 200  # nothing of it is still held


def test_a_chunked_body_is_charged_as_it_arrives(gw: Gateway, sockets: list[socket.socket]) -> None:
    sock = connect(gw.url)
    sockets.append(sock)
    sock.sendall(chat_head(None, "Transfer-Encoding: chunked"))
    piece = b" " * 65536
    for _ in range(2):  # 128 KiB of whitespace held (x2), no Content-Length to reserve from
        sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
    assert wait_for(lambda: gw.chat(content=PROSE).status_code == 503, timeout=10)
    for _ in range(4):  # it grows past the budget: refused, with a reason, while sending
        try:
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
        except OSError:
            break
    response = read_response(sock)
    assert response is not None and response.status in (503, 413)
    assert wait_for(lambda: gw.chat(content=PROSE).status_code == 200, timeout=10)
    assert gw.chat(content="after").status_code == 200


def test_streams_and_whole_answers_release_what_they_held(gw: Gateway) -> None:
    for _ in range(20):  # 20 x ~200 KB through a 400 KB budget, one after another
        assert gw.chat(content=PROSE).status_code == 200
    with gw.client.stream(
        "POST", "/v1/chat/completions", content=chat_body(content=PROSE, stream=True)
    ) as response:
        assert response.status_code == 200
        response.read()
    assert gw.chat(content=PROSE).status_code == 200
