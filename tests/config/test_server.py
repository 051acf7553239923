"""The `server:` section's connection bounds: defaults, and errors that name the YAML path."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, ServerConfig
from proxy.config.server import parse_server


def test_connection_bound_defaults() -> None:
    server = parse_server(None)
    assert server == ServerConfig()
    assert (server.max_header_bytes, server.max_headers) == (65536, 100)
    assert (server.header_timeout, server.body_timeout) == (10.0, 30.0)
    assert server.max_connections == 1024
    assert server.max_buffered_bytes == 64 << 20


def test_connection_bounds_are_read() -> None:
    server = parse_server(
        {
            "max_header_bytes": 16384,
            "max_headers": 50,
            "header_timeout": 2.5,
            "body_timeout": 5,
            "max_connections": 10,
            "max_buffered_bytes": 1 << 20,
        }
    )
    assert (server.max_header_bytes, server.max_headers) == (16384, 50)
    assert (server.header_timeout, server.body_timeout) == (2.5, 5.0)
    assert (server.max_connections, server.max_buffered_bytes) == (10, 1 << 20)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"max_header_bytes": 512}, "server.max_header_bytes: expected a value >= 1024"),
        ({"max_header_bytes": "64k"}, "server.max_header_bytes: expected an integer"),
        ({"max_headers": 2}, "server.max_headers: expected a value >= 8"),
        ({"header_timeout": 0}, "server.header_timeout: expected a value >= 0.001"),
        ({"body_timeout": "30s"}, "server.body_timeout: expected a number"),
        ({"max_connections": 0}, "server.max_connections: expected a value >= 1"),
        ({"max_buffered_bytes": 1.5}, "server.max_buffered_bytes: expected an integer"),
        ({"max_header_size": 1}, "server.max_header_size: unknown key"),
    ],
)
def test_bad_connection_bounds_name_their_path(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_server(raw)
    assert str(info.value).startswith(expected)
