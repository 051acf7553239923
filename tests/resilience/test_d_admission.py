"""Checklist D1-D5: overload, health under saturation, and request hygiene.
(D6-D8, slow clients and header abuse, are not part of this issue.)"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.formats import OPENAI
from tests.fakes.scripted import ScriptedUpstream
from tests.resilience.client import RawStream
from tests.resilience.harness import AUTH, Gateway, assert_openai_error, chat_body

Make = Callable[..., Gateway]
IN_FLIGHT = 3
PROMPT = " ".join(f"word{i}" for i in range(12))  # the mock streams one chunk per word


@pytest.fixture
def saturated(gateway: Make) -> Iterator[tuple[Gateway, list[RawStream]]]:
    """A proxy at its in-flight limit: IN_FLIGHT slow streams, each past its first event."""
    gw = gateway(
        {"slow": {"type": "mock", "options": {"chunk_delay_ms": 100, "stream_chunks": 40}}},
        server={"max_in_flight": IN_FLIGHT},
    )
    streams = [gw.open_stream(content=PROMPT) for _ in range(IN_FLIGHT)]
    for stream in streams:
        assert stream.result.status == 200
        assert stream.next_event() is not None
    yield gw, streams


def test_d1_over_max_in_flight_fast_503_in_flight_unaffected(
    saturated: tuple[Gateway, list[RawStream]],
) -> None:
    gw, streams = saturated
    for i in range(IN_FLIGHT + 5):
        # Refused at once: nobody waits for a slot (the checklist's 20 ms is the benchmark's).
        response = gw.chat_within(1.0, stream=i % 2 == 0)
        error = assert_openai_error(response, 503, "overloaded")
        assert error["type"] == "service_unavailable"
        assert int(response.headers["retry-after"]) >= 1
    for stream in streams:  # the streams in flight finish untouched
        result = stream.read_all()
        assert result.done and not result.error_events
        assert result.content.startswith("Mock answer to:")
    # Slots were released: the proxy admits again.
    assert gw.chat(content="again").status_code == 200


def test_d2_health_fast_and_exempt_under_saturation(
    saturated: tuple[Gateway, list[RawStream]],
) -> None:
    gw, _ = saturated
    assert gw.chat().status_code == 503  # saturated indeed
    for path in ("/health/live", "/health", "/health/ready", "/metrics"):
        for _ in range(5):
            response = gw.client.get(path, timeout=0.5)  # the checklist's 100 ms, 5x
            assert response.status_code == 200, (path, response.text)


# --- D3 / D4: body size ---------------------------------------------------------------------


LIMIT = 1 << 20


@pytest.fixture
def limited(scripted: Callable[..., ScriptedUpstream], gateway: Make) -> tuple[Gateway, Any]:
    fake = scripted(OPENAI)
    gw = gateway({"primary": OPENAI.provider(fake.url)}, server={"max_body_bytes": LIMIT})
    return gw, fake


def _connect(gw: Gateway) -> socket.socket:
    host, port = gw.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _read_response(sock: socket.socket, timeout: float = 5.0) -> tuple[int, bytes]:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body


def test_d3_declared_oversized_body_413_before_reading(limited: tuple[Gateway, Any]) -> None:
    gw, fake = limited
    declared = 20 << 20
    with _connect(gw) as sock:
        sock.sendall(
            (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {AUTH['authorization']}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {declared}\r\n\r\n"
            ).encode()
            + b'{"model": "m", "messages": ['
        )
        # Only a few bytes of the 20 MiB were sent: the answer cannot depend on reading them.
        status, body = _read_response(sock)
    assert status == 413
    assert b"request_too_large" in body
    assert fake.hits == 0


def test_d4_chunked_body_over_limit_413_after_limit_bytes(limited: tuple[Gateway, Any]) -> None:
    gw, fake = limited
    piece = b"x" * 65536
    sent = 0
    answered = False
    with _connect(gw) as sock:
        sock.sendall(
            (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {AUTH['authorization']}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        sock.settimeout(2)
        try:
            for _ in range(512):  # up to 32 MiB, stopping as soon as an answer is there
                if select.select([sock], [], [], 0)[0]:
                    answered = True
                    break
                sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
                sent += len(piece)
        except OSError:
            answered = True  # the proxy stopped reading and hung up: it did not take it all
        status, body = _read_response(sock)
    assert answered
    assert status == 413
    assert b"request_too_large" in body
    assert sent < 16 << 20  # cut near the limit, not after the whole body
    assert fake.hits == 0


# --- D5: bad JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"[" * 100_000, "application/json", 400, id="deep-array"),
        pytest.param(b'{"a":' * 100_000, "application/json", 400, id="deep-object"),
        pytest.param(
            b'{"model": "m", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            "application/json",
            400,
            id="deep-inside-valid",
        ),
        pytest.param(b'{"model": "m", "messages": [', "application/json", 400, id="invalid-json"),
        pytest.param(b"\xff\xfe not utf-8", "application/json", 400, id="not-utf8"),
        pytest.param(chat_body(), "text/plain", 415, id="wrong-content-type"),
        pytest.param(chat_body(), "application/x-www-form-urlencoded", 415, id="form"),
    ],
)
def test_d5_bad_body_4xx_json_never_500(
    limited: tuple[Gateway, Any], body: bytes, content_type: str, status: int
) -> None:
    gw, fake = limited
    response = gw.client.post(
        "/v1/chat/completions", content=body, headers={"content-type": content_type}
    )
    assert_openai_error(response, status)
    assert 'File "' not in response.text
    assert fake.hits == 0
