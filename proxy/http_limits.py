"""What one client connection may make the proxy spend before and while its request arrives.

The bounds (`server.max_header_bytes`, `max_headers`, `header_timeout`, `body_timeout`,
`max_connections`, `max_buffered_bytes`) are enforced by the protocol (http_protocol.py),
which finds them in the lifespan state under STATE_KEY: one HttpGuard per app, shared by its
connections. The guard also owns the body budget: the memory request bodies may hold at
once, counted as they arrive and released when their response completes.
"""

from __future__ import annotations

import logging
import math
import resource
from dataclasses import dataclass
from typing import Any

from proxy import metrics
from proxy.config import ServerConfig
from proxy.errors import ProxyError

log = logging.getLogger("proxy.http")

STATE_KEY = "proxy.http_guard"
# Python objects a parsed JSON value costs beyond its text, per structural byte (`{ [ , "`),
# measured with orjson on CPython 3.11: an empty list or dict is 56-64 bytes plus an 8-byte
# slot, a short string 50 plus its slot, a chat message dict ~300 bytes for ~11 such bytes.
# Prose, a few such bytes per hundred, costs about its own size.
_PARSED_BYTES_PER_TOKEN = 32
_TOKENS = b',{["'
# A refused connection is logged at most this often (an attack would otherwise flood the log).
_LOG_EVERY = 10.0


def body_cost(chunk: bytes) -> int:
    """The memory a chunk of a JSON body will hold once parsed, estimated in one pass
    (orjson expands 9.6 MB of tiny messages to ~100 MB; counting raw bytes would miss it).
    Raw bytes count twice: the request holds them as read and as parsed (or joined)."""
    return 2 * len(chunk) + _parsed_extra(chunk)


def _parsed_extra(chunk: bytes) -> int:
    tokens = len(chunk) - len(chunk.translate(None, _TOKENS))
    return _PARSED_BYTES_PER_TOKEN * tokens


def _parsed_extra_bound(chunk: bytes) -> int:
    """What _parsed_extra can be at most (every byte a token), without reading the chunk."""
    return _PARSED_BYTES_PER_TOKEN * len(chunk)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float  # already capped by the request deadline
    max_connections: int
    max_buffered_bytes: int
    max_body_bytes: int  # a longer declared body is the app's 413, not reserved here

    @classmethod
    def from_server(cls, server: ServerConfig) -> HttpLimits:
        return cls(
            max_header_bytes=server.max_header_bytes,
            max_headers=server.max_headers,
            header_timeout=server.header_timeout,
            body_timeout=min(server.body_timeout, server.request_timeout),
            max_connections=_fit_descriptors(server.max_connections),
            max_buffered_bytes=server.max_buffered_bytes,
            max_body_bytes=server.max_body_bytes,
        )


def _fit_descriptors(wanted: int) -> int:
    """At most half the open-file limit: each client connection usually needs an upstream
    one too, and running out of descriptors locks everyone out, logs and health included."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted <= soft // 2:
        return wanted
    fitted = max(1, soft // 2)
    log.warning(
        "server.max_connections %d lowered to %d: half the open-file limit (%d)",
        wanted,
        fitted,
        soft,
    )
    return fitted


class HttpGuard:
    """One per app (per worker): the limits, and the body bytes held by all connections."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.buffered = 0  # estimated bytes of request bodies held now
        self._unread_ceiling = limits.max_buffered_bytes // 2
        # Connections with no request in progress (still sending a head, or idle between
        # requests), oldest first: at the connection limit a newcomer evicts the oldest.
        self.idle: dict[Any, None] = {}
        self._refusals = 0
        self._logged_at = -math.inf

    def charge_body(self, chunk: bytes, raw_part: int) -> tuple[bool, int]:
        """Charge a body chunk (`raw_part` of it not already reserved): (charged, cost).

        Scanning costs ~2 ns a byte, as much as parsing: while the budget is less than half
        used, a chunk is charged its upper bound unread; past that, what it will really hold.
        The bound can thus waste at most half the budget, and only when it is not needed."""
        cost = raw_part + _parsed_extra_bound(chunk)
        if self.buffered + cost <= self._unread_ceiling:
            self.buffered += cost
            return True, cost
        cost = raw_part + _parsed_extra(chunk)
        return self.charge(cost), cost

    def charge(self, cost: int) -> bool:
        """Reserve `cost` bytes of the body budget; False (nothing reserved) if it is full."""
        if self.buffered + cost > self.limits.max_buffered_bytes:
            return False
        self.buffered += cost
        return True

    def release(self, cost: int) -> None:
        self.buffered -= cost

    def oldest_idle(self) -> Any | None:
        """The connection idle longest, taken off the idle list; None if every one is busy."""
        for connection in self.idle:
            del self.idle[connection]
            return connection
        return None

    def refused(self, reason: str, now: float) -> None:
        """Count a connection or request refused by a bound; log the first one and then a
        summary at most every _LOG_EVERY seconds, so a flood cannot flood the log."""
        metrics.observe_rejected(reason)
        self._refusals += 1
        if now - self._logged_at >= _LOG_EVERY:
            log.warning(
                "refused %d connection(s) or request(s) at a server bound; latest: %s",
                self._refusals,
                reason,
            )
            self._refusals = 0
            self._logged_at = now


def raw_response(error: ProxyError) -> bytes:
    """A whole HTTP/1.1 response, written by the protocol before (or instead of) the app."""
    body = error.to_openai_body()
    lines = [f"HTTP/1.1 {error.status} {_REASONS[error.status]}", "content-type: application/json"]
    lines += [f"{name}: {value}" for name, value in error.headers.items()]
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_REASONS = {
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
