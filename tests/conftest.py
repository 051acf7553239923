"""Shared fixtures: `serve(app) -> base URL`, `start_proxy(yaml, env) -> base URL`, and the
fake upstreams of tests/fakes as fixtures (`fake_openai`, `scripted`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.fakes.formats import OPENAI, WireFormat
from tests.fakes.openai import FakeOpenAI
from tests.fakes.scripted import Recorded, Script, ScriptedUpstream
from tests.servers import RunningServer

CLIENT_KEY = "test-client-key-0123456789"


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start an ASGI app on 127.0.0.1 (random port); returns its base URL. Every server is
    stopped at teardown, all at once: uvicorn takes ~0.15 s to stop, and many tests run a
    proxy and one or two fakes."""
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
def start_proxy(serve: Callable[..., str]) -> Callable[..., str]:
    """Start the real proxy app on 127.0.0.1 from YAML text; returns e.g. http://127.0.0.1:PORT.

    Clients authenticate with CLIENT_KEY (add `auth: {api_keys: ["${PROXY_API_KEY}"]}` or
    leave `auth` out: it defaults to that key). `env` supplies ${VAR}s for the YAML.
    """
    from proxy.app import build_app
    from proxy.config import parse_config
    from proxy.http_protocol import CoalescingHttpToolsProtocol

    def start(yaml_text: str, env: Mapping[str, str] | None = None, **kwargs: Any) -> str:
        if "\nauth:" not in "\n" + yaml_text:
            yaml_text += '\nauth:\n  api_keys: ["${PROXY_API_KEY}"]\n'
        variables = {"PROXY_API_KEY": CLIENT_KEY, **(env or {})}
        config = parse_config(yaml_text, variables)
        # The protocol `python -m proxy` runs with.
        return serve(build_app(config, **kwargs), http=CoalescingHttpToolsProtocol)

    return start


@pytest.fixture
def fake_openai(serve: Callable[..., str]) -> Callable[..., tuple[FakeOpenAI, str]]:
    """fake_openai(**fields) -> (FakeOpenAI, its base URL), served by uvicorn on loopback."""

    def make(**fields: Any) -> tuple[FakeOpenAI, str]:
        fake = FakeOpenAI(**fields)
        return fake, serve(fake.app())

    return make


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedUpstream]]:
    """scripted(fmt=OPENAI, script=None, choose=None) -> a started ScriptedUpstream."""
    made: list[ScriptedUpstream] = []

    def make(
        fmt: WireFormat = OPENAI,
        script: Script | None = None,
        choose: Callable[[Recorded], Script] | None = None,
    ) -> ScriptedUpstream:
        fake = ScriptedUpstream(fmt, script, choose).start()
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.stop()
