"""Raw-socket HTTP/1.1 for tests that misbehave on purpose (slow, huge or broken requests),
which no client library will send. Every wait has a deadline."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field

from tests.resilience.harness import AUTH


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def chat_head(content_length: int | None, *extra: str, auth: str | None = None) -> bytes:
    """The request line and headers of a chat POST, up to the blank line."""
    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        "Host: x",
        f"Authorization: {auth if auth is not None else AUTH['authorization']}",
        "Content-Type: application/json",
        *extra,
    ]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket, timeout: float = 5.0) -> RawResponse | None:
    """One response off the socket; None if the peer closed (or reset) before a whole head."""
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = _recv(sock, deadline)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            body += chunk
    except ConnectionResetError:
        return None
    return RawResponse(int(lines[0].split(" ")[1]), headers, body)


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True once the peer has closed the connection (EOF or reset), within `timeout`;
    whatever it sent before is read and dropped."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not _recv(sock, deadline):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def send_until_answered(sock: socket.socket, pieces: list[bytes]) -> tuple[int, bool]:
    """Send pieces one by one until the peer answers or hangs up; (bytes sent, stopped early)."""
    sent = 0
    try:
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                return sent, True
            sock.sendall(piece)
            sent += len(piece)
    except OSError:
        return sent, True
    return sent, False


def _recv(sock: socket.socket, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)
    try:
        return sock.recv(65536)
    except TimeoutError:
        raise
    except OSError as exc:
        if isinstance(exc, ConnectionResetError):
            raise
        return b""
