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
from proxy.tenancy.failover import build_store
from proxy.tenancy.gate import TenantGate
from proxy.tenancy.limiter import Limiter
from proxy.tenancy.policy import Policy
from proxy.tenancy.store import BackendErrors, Store
from proxy.upstream import TransportFactory, Upstream

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
    gate: TenantGate  # named keys' model access and limits (tenancy/gate.py)
    store: Store  # the Gateway's, kept across reloads: counters survive a reload
    loaded_at: float = field(default_factory=time.time)  # wall clock: built at start or reload

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
    keys += [k.key.value for k in config.auth.keys if not k.key.value.startswith("sha256:")]
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
        self._store: Store | None = None
        self._limiter: Limiter | None = None

    def start(self) -> None:
        # One store for the process's life: a reload keeps every counter. A changed
        # `state:` section takes effect at the next restart.
        state = self._initial.state
        self._store = build_store(state, BackendErrors(metrics.observe_state_error))
        # A lease outlives any request (its deadline), so only a crashed replica's expires.
        self._limiter = Limiter(self._store, self._initial.server.request_timeout + 60)
        self.state = self._build(self._initial, build_adapters(self._initial), None)

    async def reload(self) -> tuple[bool, str]:
        """Re-read the config; on any error keep the current one. Returns (ok, message)."""
        if self._load is None:
            return False, "this server was started without a config file to reload"
        old = self.state
        assert old is not None
        try:
            config = self._load()
            adapters = build_adapters(config)
            self.state = self._build(config, adapters, old)
        except ConfigError as exc:
            log.error("reload refused, keeping the current config: %s", exc)
            return False, f"reload refused: {exc}"
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
        if self._store is not None:
            await self._store.close()

    def _build(
        self, config: Config, adapters: dict[str, Adapter], old: AppState | None
    ) -> AppState:
        assert self._store is not None and self._limiter is not None
        # First: a refused key list (the same key twice) must not leave new pools behind.
        policy = Policy(config.auth.keys, config.auth.api_keys) if config.auth.keys else None
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
        # Provider 429 cooldowns are shared only through a store other replicas can see.
        shared = self._store if self._initial.state.backend == "redis" else None
        return AppState(
            config=config,
            auth=Authenticator(config.auth.api_keys, config.auth.disabled, policy),
            router=Router(config, routes, shared),
            routes=routes,
            models_body=models_body(public, created),
            model_objects={n: orjson.dumps(model_object(n, created)) for n in public},
            public_models=frozenset(config.models),
            admin_key=Authenticator([admin]) if admin is not None else None,
            gate=TenantGate(self._limiter, config),
            store=self._store,
        )

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
