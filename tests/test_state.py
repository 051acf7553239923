"""Gateway build and reload: validate first, then swap; pools and breakers are owned and
released; the file is read off the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import threading
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY

from proxy.config import AuthConfig, Config, ProviderConfig, Secret, parse_config
from proxy.lifecycle import Lifecycle
from proxy.redaction import SECRETS
from proxy.state import Gateway

_names = itertools.count()


class FakeTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def aclose(self) -> None:
        self.closed.set()


class Pools:
    """A transport factory that remembers what it made, per provider."""

    def __init__(self) -> None:
        self.made: dict[str, list[FakeTransport]] = {}

    def __call__(self, provider: ProviderConfig) -> httpx.AsyncBaseTransport:
        transport = FakeTransport()
        self.made.setdefault(provider.name, []).append(transport)
        return transport


def yaml_for(name: str, timeout: int = 60, server: str = "") -> str:
    """One openai provider (never called) with a unique name: metrics are process-global."""
    return f"""
providers:
  {name}: {{type: openai, base_url: "http://127.0.0.1:9/v1", timeout: {timeout},
           breaker: {{fail_max: 1, reset_timeout: 600}}}}
models: {{m: [{{provider: {name}, model: x}}]}}
auth: {{disabled: true}}
server: {{request_timeout: 600{server}}}
"""


def gateway_for(text: str, load: Callable[[], Config] | None = None) -> tuple[Gateway, Pools]:
    pools = Pools()
    gateway = Gateway(parse_config(text, {}), pools, Lifecycle(10, 1.0), load)
    gateway.start()
    return gateway, pools


def breaker_gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value("proxy_breaker_state", {"provider": name})


async def test_a_reload_that_fails_validation_changes_nothing() -> None:
    name = f"state{next(_names)}"
    bad = dataclasses.replace(
        parse_config(yaml_for(name, timeout=5), {}),
        # Past parse_config (which now refuses it too): the gateway must check it itself.
        auth=AuthConfig(api_keys=(Secret("sha256:not-a-digest-but-a-secret"),)),
    )
    gateway, pools = gateway_for(yaml_for(name), load=lambda: bad)
    before = gateway.state
    ok, message = await gateway.reload()
    assert not ok and message.startswith("reload refused: auth.api_keys[0]: sha256:")
    assert gateway.state is before
    assert "sha256:not-a-digest-but-a-secret" not in SECRETS.secrets
    assert len(pools.made[name]) == 1  # no pool was built for the refused config
    await gateway.aclose()


async def test_a_kept_provider_keeps_its_open_breaker_and_its_gauge() -> None:
    name = f"state{next(_names)}"
    text = yaml_for(name)
    gateway, _ = gateway_for(text, load=lambda: parse_config(text, {}))
    assert gateway.state is not None
    route = gateway.state.routes[name]
    admission = route.health.admit()
    route.health.record_failure(admission, RuntimeError("upstream down"))
    assert route.health.state == "open" and breaker_gauge(name) == 2
    assert (await gateway.reload())[0]
    assert gateway.state.routes[name] is route
    assert breaker_gauge(name) == 2
    await gateway.aclose()


async def test_a_changed_max_cooldown_applies_to_kept_providers() -> None:
    name = f"state{next(_names)}"
    gateway, _ = gateway_for(
        yaml_for(name), load=lambda: parse_config(yaml_for(name, server=", max_cooldown: 5"), {})
    )
    assert (await gateway.reload())[0]
    assert gateway.state is not None
    assert gateway.state.routes[name].health.start_cooldown(100) == 5
    await gateway.aclose()


async def test_shutdown_closes_the_pools_still_waiting_to_retire() -> None:
    name = f"state{next(_names)}"
    gateway, pools = gateway_for(yaml_for(name), load=lambda: parse_config(yaml_for(name, 5), {}))
    assert (await gateway.reload())[0]  # timeout changed: a new pool, the old one retires
    old, new = pools.made[name]
    assert not old.closed.is_set()  # in-flight requests may still use it for 600 s
    await gateway.aclose()
    assert old.closed.is_set() and new.closed.is_set()


async def test_a_retired_pool_is_closed_after_the_grace() -> None:
    name = f"state{next(_names)}"
    short = yaml_for(name).replace("request_timeout: 600", "request_timeout: 0.01")
    gateway, pools = gateway_for(short, load=lambda: parse_config(yaml_for(name, 5), {}))
    assert (await gateway.reload())[0]
    old, new = pools.made[name]
    await asyncio.wait_for(old.closed.wait(), timeout=5)
    assert not new.closed.is_set()
    await gateway.aclose()


async def test_the_config_file_is_read_off_the_event_loop() -> None:
    name = f"state{next(_names)}"
    text = yaml_for(name)
    threads: list[int] = []

    def load() -> Config:
        threads.append(threading.get_ident())
        return parse_config(text, {})

    gateway, _ = gateway_for(text, load=load)
    assert (await gateway.reload())[0]
    assert threads and threads[0] != threading.get_ident()
    await gateway.aclose()


async def test_the_mock_provider_runs_in_process_without_a_pool() -> None:
    name = f"state{next(_names)}"
    gateway, pools = gateway_for(
        f"providers: {{{name}: {{type: mock}}}}\nmodels: {{m: [{{provider: {name}, model: x}}]}}\n"
        "auth: {disabled: true}\n"
    )
    assert pools.made == {}
    await gateway.aclose()


@pytest.mark.parametrize("changed", [False, True])
async def test_only_changed_providers_get_a_new_route(changed: bool) -> None:
    name = f"state{next(_names)}"
    after = yaml_for(name, timeout=5 if changed else 60)
    gateway, pools = gateway_for(yaml_for(name), load=lambda: parse_config(after, {}))
    assert gateway.state is not None
    route = gateway.state.routes[name]
    assert (await gateway.reload())[0]
    assert (gateway.state.routes[name] is not route) == changed
    assert len(pools.made[name]) == (2 if changed else 1)
    await gateway.aclose()


async def test_a_server_gateway_settles_its_heap_at_start_and_after_a_reload() -> None:
    """The previous config is unfrozen at the reload (its requests may still run) and the
    heap settled again once they are past their deadline (heap.py)."""
    name = f"state{next(_names)}"
    short = yaml_for(name).replace("request_timeout: 600", "request_timeout: 0.01")
    threshold = gc.get_threshold()
    gateway = Gateway(parse_config(short, {}), Pools(), Lifecycle(10, 1.0), None, True)
    gateway._load = lambda: parse_config(short, {})
    try:
        gateway.start()
        assert gc.get_freeze_count() > 0
        assert (await gateway.reload())[0]
        assert gc.get_freeze_count() == 0
        async with asyncio.timeout(10):  # the grace is 1.01 s
            while gc.get_freeze_count() == 0:
                await asyncio.sleep(0.01)
    finally:
        await gateway.aclose()
        gc.unfreeze()
        gc.set_threshold(*threshold)
