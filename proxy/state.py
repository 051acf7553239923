"""The routing state a request runs on, and its atomic replacement on reload.

A request takes `gateway.state` once when it starts and keeps that object to the end, so
a reload (SIGHUP or POST /admin/reload) swaps routing for new requests while in-flight
ones finish on the config they started with. Providers whose config did not change keep
their connection pool and breaker; pools of removed or changed providers are closed once
the requests that could still use them are done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from proxy import metrics
from proxy.auth import Authenticator
from proxy.breakers import ProviderHealth
from proxy.config import Config, ConfigError, ProviderConfig
from proxy.lifecycle import Lifecycle
from proxy.logs import log_fields, register_secrets
from proxy.mock_upstream import MockUpstreamTransport
from proxy.providers import build_adapter, check_embedding_models
from proxy.providers.base import Adapter
from proxy.router import Route, Router
from proxy.upstream import TransportFactory, Upstream

if TYPE_CHECKING:
    from proxy.tracing import Tracer, Tracing

log = logging.getLogger("proxy")


@dataclass
class AppState:
    config: Config
    auth: Authenticator
    router: Router
    routes: dict[str, Route]
    models_body: bytes
    model_objects: dict[str, bytes]  # GET /v1/models/{model}: the listed models' objects
    public_models: frozenset[str]
    admin_key: Authenticator | None
    loaded_at: float = field(default_factory=time.time)  # wall clock: built at start or reload
    tracer: Tracer | None = None  # None unless tracing.enabled

    @property
    def max_body_bytes(self) -> int:
        return self.config.server.max_body_bytes

    def model_label(self, name: str) -> str:
        """A metrics label: the public name if the routing table has it, else "other"."""
        return name if name in self.public_models else metrics.OTHER


def models_body(names: list[str], created: int) -> bytes:
    return orjson.dumps({"object": "list", "data": [model_object(n, created) for n in names]})


def model_object(name: str, created: int) -> dict[str, object]:
    return {"id": name, "object": "model", "created": created, "owned_by": "llm-proxy"}


def build_adapters(config: Config) -> dict[str, Adapter]:
    """Adapters for the enabled providers; raises ConfigError on bad provider options."""
    adapters = {
        name: build_adapter(provider)
        for name, provider in config.providers.items()
        if provider.enabled
    }
    check_embedding_models(config, adapters)
    return adapters


def config_secrets(config: Config) -> list[str]:
    keys = [p.api_key.value for p in config.providers.values() if p.api_key is not None]
    keys += [k.value for k in config.auth.api_keys]
    if config.admin.api_key is not None:
        keys.append(config.admin.api_key.value)
    return keys


class Gateway:
    """Owns the current AppState; builds it at startup and on every reload."""

    def __init__(
        self,
        config: Config,
        transport_factory: TransportFactory,
        lifecycle: Lifecycle,
        load: Callable[[], Config] | None = None,
    ) -> None:
        self._initial = config
        self._transport_factory = transport_factory
        self._load = load
        self.lifecycle = lifecycle
        self.state: AppState | None = None
        self._retired: set[asyncio.Task[None]] = set()
        self._tracing: Tracing | None = None  # the exporter, made when first enabled

    def start(self) -> None:
        self._start_tracing(self._initial)
        self.state = self._build(self._initial, build_adapters(self._initial), None)

    async def reload(self) -> tuple[bool, str]:
        """Re-read the config; on any error keep the current one. Returns (ok, message)."""
        if self._load is None:
            return False, "this server was started without a config file to reload"
        try:
            config = self._load()
            adapters = build_adapters(config)
            self._start_tracing(config)
        except ConfigError as exc:
            log.error("reload refused, keeping the current config: %s", exc)
            return False, f"reload refused: {exc}"
        old = self.state
        assert old is not None
        self.state = self._build(config, adapters, old)
        self.lifecycle.max_in_flight = config.server.max_in_flight
        self.lifecycle.drain_timeout = config.server.drain_timeout
        dropped = [r for n, r in old.routes.items() if self.state.routes.get(n) is not r]
        if dropped:
            task = asyncio.create_task(
                self._close_later(dropped, old.config.server.request_timeout)
            )
            self._retired.add(task)
            task.add_done_callback(self._retired.discard)
        log_fields(log, logging.WARNING, "config reloaded", models=sorted(config.models))
        return True, "reloaded"

    async def aclose(self) -> None:
        for task in self._retired:
            task.cancel()
        if self.state is not None:
            for route in self.state.routes.values():
                await route.upstream.aclose()
        if self._tracing is not None:
            config = self.state.config if self.state is not None else self._initial
            await self._tracing.aclose(config.tracing.flush_timeout)

    def _build(
        self, config: Config, adapters: dict[str, Adapter], old: AppState | None
    ) -> AppState:
        register_secrets(config_secrets(config))
        metrics.set_enabled(config.admin.metrics)
        routes = {
            name: self._route(config, config.providers[name], adapter, old)
            for name, adapter in adapters.items()
        }
        public = [m for m in config.models if config.enabled_deployments(m)]
        metrics.prebind(config.models, routes)
        admin = config.admin.api_key
        created = int(time.time())
        return AppState(
            config=config,
            auth=Authenticator(config.auth.api_keys, config.auth.disabled),
            router=Router(config, routes),
            routes=routes,
            models_body=models_body(public, created),
            model_objects={n: orjson.dumps(model_object(n, created)) for n in public},
            public_models=frozenset(config.models),
            admin_key=Authenticator([admin]) if admin is not None else None,
            tracer=self._tracer(config),
        )

    def _start_tracing(self, config: Config) -> None:
        """The exporter, the first time a config enables tracing; off, OpenTelemetry is
        never imported."""
        if not config.tracing.enabled or self._tracing is not None:
            return
        try:
            from proxy.tracing import Tracing
        except ImportError as exc:
            raise ConfigError(
                "tracing.enabled: the OpenTelemetry packages are not installed "
                "(pip install 'llm-proxy[tracing]')"
            ) from exc
        self._tracing = Tracing()

    def _tracer(self, config: Config) -> Tracer | None:
        if not config.tracing.enabled or self._tracing is None:
            return None
        return self._tracing.for_config(config)

    def _route(
        self, config: Config, provider: ProviderConfig, adapter: Adapter, old: AppState | None
    ) -> Route:
        previous = old.routes.get(provider.name) if old is not None else None
        if (
            previous is not None
            and old is not None
            and old.config.providers[provider.name] == provider
        ):
            return previous  # unchanged: keep its pool and its breaker state
        in_process = getattr(adapter, "in_process", False)
        transport = (
            MockUpstreamTransport(provider) if in_process else self._transport_factory(provider)
        )
        health = ProviderHealth(
            provider.name,
            provider.breaker,
            on_change=metrics.observe_breaker,
            max_cooldown=config.server.max_cooldown,
        )
        return Route(
            adapter,
            Upstream(provider, transport),
            health,
            provider.retries,
            provider.retry_backoff,
        )

    @staticmethod
    async def _close_later(routes: list[Route], grace: float) -> None:
        # In-flight requests of the old config may still be using these pools.
        await asyncio.sleep(grace)
        for route in routes:
            await route.upstream.aclose()
