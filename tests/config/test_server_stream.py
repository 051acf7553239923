"""The `server:` keys of the stream core: client_idle_timeout and max_precommit_bytes."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError
from proxy.config.server import ServerConfig, parse_server


def test_defaults() -> None:
    server = parse_server(None)
    assert server.client_idle_timeout == 60.0
    assert server.max_precommit_bytes == 256 * 1024
    assert server == ServerConfig()


def test_values_are_read() -> None:
    server = parse_server({"client_idle_timeout": 5, "max_precommit_bytes": 4096})
    assert (server.client_idle_timeout, server.max_precommit_bytes) == (5.0, 4096)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"client_idle_timeout": 0}, "server.client_idle_timeout: expected a value >= 0.001"),
        ({"client_idle_timeout": "1m"}, "server.client_idle_timeout: expected a number"),
        ({"max_precommit_bytes": 0}, "server.max_precommit_bytes: expected a value >= 1"),
        ({"max_precommit_bytes": 1.5}, "server.max_precommit_bytes: expected an integer"),
    ],
)
def test_bad_values_name_their_path(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_server(raw)
