"""The `server:` section: process-wide bounds and deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.config.values import mapping, number, reject_unknown


@dataclass(frozen=True)
class ServerConfig:
    max_body_bytes: int = 10 * 1024 * 1024
    max_response_bytes: int = 32 * 1024 * 1024
    request_timeout: float = 600.0  # total deadline for one request, all attempts included
    max_in_flight: int = 1024  # per worker; beyond it 503 + Retry-After at once
    drain_timeout: float = 25.0  # on SIGTERM: how long open streams may still run
    max_cooldown: float = 300.0  # cap on a provider's Retry-After cooldown
    # A stream whose client accepts no bytes for this long is ended (upstream closed).
    client_idle_timeout: float = 60.0
    # Bytes of non-data SSE events (comments, pings) held before a stream's first data event.
    max_precommit_bytes: int = 256 * 1024
    # Most public models one request may list in `models` (per-request routing).
    max_request_models: int = 8
    # Connection bounds, enforced in http_protocol.py before the app sees a request.
    max_header_bytes: int = 64 * 1024  # request line + headers; beyond it 431 and close
    max_headers: int = 100  # header fields per request; beyond it 431 and close
    header_timeout: float = 10.0  # accept (or a request's first byte) to complete headers
    body_timeout: float = 30.0  # complete headers to complete body (capped by request_timeout)
    max_connections: int = 1024  # per worker; beyond it 503 and close at accept
    # Request bodies held at once, per worker, counted with their parsed size (see http_limits).
    max_buffered_bytes: int = 64 * 1024 * 1024


_SERVER_KEYS = {
    "max_body_bytes",
    "max_response_bytes",
    "request_timeout",
    "max_in_flight",
    "drain_timeout",
    "max_cooldown",
    "client_idle_timeout",
    "max_precommit_bytes",
    "max_request_models",
    "max_header_bytes",
    "max_headers",
    "header_timeout",
    "body_timeout",
    "max_connections",
    "max_buffered_bytes",
}


def parse_server(raw: Any) -> ServerConfig:
    data = mapping(raw if raw is not None else {}, "server")
    reject_unknown(data, "server", _SERVER_KEYS)
    default = ServerConfig()
    return ServerConfig(
        max_in_flight=int(
            number(data, "max_in_flight", "server", default.max_in_flight, 1, integer=True)
        ),
        drain_timeout=number(data, "drain_timeout", "server", default.drain_timeout, 0.0),
        max_cooldown=number(data, "max_cooldown", "server", default.max_cooldown, 0.0),
        max_body_bytes=int(
            number(
                data, "max_body_bytes", "server", default.max_body_bytes, minimum=1, integer=True
            )
        ),
        max_response_bytes=int(
            number(
                data, "max_response_bytes", "server", default.max_response_bytes, 1, integer=True
            )
        ),
        request_timeout=number(data, "request_timeout", "server", default.request_timeout, 0.001),
        client_idle_timeout=number(
            data, "client_idle_timeout", "server", default.client_idle_timeout, 0.001
        ),
        max_precommit_bytes=int(
            number(
                data, "max_precommit_bytes", "server", default.max_precommit_bytes, 1, integer=True
            )
        ),
        max_request_models=int(
            number(
                data, "max_request_models", "server", default.max_request_models, 1, integer=True
            )
        ),
        **_connection_bounds(data, default),
    )


def _connection_bounds(data: Any, default: ServerConfig) -> dict[str, Any]:
    def count(key: str, minimum: int) -> int:
        return int(number(data, key, "server", getattr(default, key), minimum, integer=True))

    def seconds(key: str) -> float:
        return number(data, key, "server", getattr(default, key), 0.001)

    return {
        # Below 1 KiB not even an SDK's ordinary request line and headers fit.
        "max_header_bytes": count("max_header_bytes", 1024),
        "max_headers": count("max_headers", 8),
        "header_timeout": seconds("header_timeout"),
        "body_timeout": seconds("body_timeout"),
        "max_connections": count("max_connections", 1),
        "max_buffered_bytes": count("max_buffered_bytes", 1024),
    }


# --- small typed readers ----------------------------------------------------------------------
