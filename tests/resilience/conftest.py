"""Fixtures of the resilience suite: toxic proxies and the proxy itself. The fake upstreams
(`scripted`, `fake_openai`) and `serve` are tests/conftest.py's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.resilience.harness import Gateway, config_yaml
from tests.resilience.toxic import Toxic


@pytest.fixture
def toxic() -> Iterator[Callable[..., Toxic]]:
    """toxic(target_port, mode=..., after=..., ...) -> a started Toxic proxy."""
    made: list[Toxic] = []

    def make(target_port: int, **kwargs: Any) -> Toxic:
        proxy = Toxic(target_port, **kwargs).start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.stop()


@pytest.fixture
def gateway(start_proxy: Callable[..., str]) -> Iterator[Callable[..., Gateway]]:
    """gateway(providers, models=None, server=None) -> a running proxy (see config_yaml)."""
    made: list[Gateway] = []

    def make(
        providers: dict[str, dict[str, Any]],
        models: dict[str, list[str]] | None = None,
        server: dict[str, Any] | None = None,
    ) -> Gateway:
        proxy = Gateway(start_proxy(config_yaml(providers, models, server)))
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()
