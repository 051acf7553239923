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
    )


# --- small typed readers ----------------------------------------------------------------------
