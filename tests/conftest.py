"""Shared fixtures: `serve(app) -> base URL` and `start_proxy(yaml, env) -> base URL`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.servers import RunningServer

CLIENT_KEY = "test-client-key-0123456789"


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start an ASGI app on 127.0.0.1 (random port); returns its base URL. Stopped at teardown."""
    servers: list[RunningServer] = []

    def start(app: Any, **config: Any) -> str:
        server = RunningServer(app, **config).start()
        servers.append(server)
        return server.url

    yield start
    for server in reversed(servers):
        server.stop()


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
