"""Fixtures of the resilience suite: scripted fakes, toxic proxies and the proxy itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.fakes.openai import FakeOpenAI
from tests.resilience.formats import OPENAI, WireFormat
from tests.resilience.harness import Gateway, config_yaml
from tests.resilience.scripted import Script, ScriptedUpstream
from tests.resilience.toxic import Toxic
from tests.servers import RunningServer


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """tests/conftest.py's `serve`, but stopping every server at once at teardown: uvicorn
    takes ~0.15 s to stop, and most tests here run a proxy and one or two fakes."""
    servers: list[RunningServer] = []

    def start(app: Any, **config: Any) -> str:
        server = RunningServer(app, **config).start()
        servers.append(server)
        return server.url

    yield start
    if servers:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(RunningServer.stop, servers))


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedUpstream]]:
    """scripted(fmt=OPENAI, script=None, choose=None) -> a started ScriptedUpstream."""
    made: list[ScriptedUpstream] = []

    def make(
        fmt: WireFormat = OPENAI,
        script: Script | None = None,
        choose: Callable[[Any], Script] | None = None,
    ) -> ScriptedUpstream:
        fake = ScriptedUpstream(fmt, script, choose).start()
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.stop()


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
def fake_openai(serve: Callable[..., str]) -> Callable[..., tuple[FakeOpenAI, str]]:
    """fake_openai(**fields) -> (FakeOpenAI, its base URL), served by uvicorn on loopback."""

    def make(**fields: Any) -> tuple[FakeOpenAI, str]:
        fake = FakeOpenAI(**fields)
        return fake, serve(fake.app())

    return make


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
