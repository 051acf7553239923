"""providers.<name>.max_connections and pool_timeout: defaults, overrides, YAML-path errors."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, ProviderConfig, parse_config

BASE = "models: {m: [{provider: up, model: m}]}\nauth: {disabled: true}\n"


def _provider(fields: str = "", server: str = "") -> ProviderConfig:
    text = f'providers: {{up: {{type: openai, base_url: "http://127.0.0.1:9/v1"{fields}}}}}\n'
    config = parse_config(text + BASE + server, {})
    return config.providers["up"]


@pytest.mark.parametrize(
    ("fields", "server", "connections", "pool_timeout"),
    [
        # Unset: the pool follows what the server admits (issue 10), waits as long as ttfb.
        ("", "", 1024, 60.0),
        ("", "server: {max_in_flight: 3000}\n", 3000, 60.0),
        (", ttfb_timeout: 7", "", 1024, 7.0),
        (", timeout: 9", "", 1024, 9.0),
        # A cap of one's own still wins.
        (", max_connections: 50, pool_timeout: 2", "server: {max_in_flight: 3000}\n", 50, 2.0),
    ],
)
def test_pool_defaults_and_overrides(
    fields: str, server: str, connections: int, pool_timeout: float
) -> None:
    provider = _provider(fields, server)
    assert provider.max_connections == connections
    assert provider.pool_timeout == pool_timeout


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (", max_connections: 0", "providers.up.max_connections: expected a value >= 1"),
        (", max_connections: 1.5", "providers.up.max_connections"),
        (", pool_timeout: 0", "providers.up.pool_timeout: expected a value >= 0.001"),
    ],
)
def test_bad_pool_values_name_their_yaml_path(fields: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        _provider(fields)
