"""The routing state a request runs on, and its atomic replacement on reload.

Everything that can refuse a config (adapters, key digests) is built by `prepare` before
anything changes, and the file is read and parsed off the event loop; only then is the new
state built and swapped in. A reload that fails leaves no trace but its log line.

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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from proxy import heap, metrics
from proxy.auth import Authenticator
from proxy.breakers import ProviderHealth
from proxy.cache.build import build_cache, retired_store
from proxy.cache.service import ResponseCache
from proxy.cache.store import ByteStore
from proxy.config import Config, ConfigError, ProviderConfig
from proxy.lifecycle import Lifecycle
from proxy.logs import log_fields, register_secrets
from proxy.providers import build_adapter, check_embedding_models, in_process_transport
from proxy.providers.base import Adapter
from proxy.router import Route, Router
from proxy.tenancy.failover import build_store
from proxy.tenancy.gate import TenantGate
from proxy.tenancy.limiter import Limiter
from proxy.tenancy.policy import Policy
from proxy.tenancy.store import BackendErrors, Store
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
    gate: TenantGate  # named keys' model access and limits (tenancy/gate.py)
    store: Store  # the Gateway's, kept across reloads: counters survive a reload
    cache: ResponseCache | None = None  # None: no model is cached (cache.models)
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


@dataclass(frozen=True)
class Prepared:
    """The parts of a state that can refuse a config; building them changes nothing."""

    config: Config
    adapters: dict[str, Adapter]
    auth: Authenticator
    admin_key: Authenticator | None


def prepare(config: Config) -> Prepared:
    """Raises ConfigError (a bad adapter option, a bad sha256 digest) and nothing else."""
    admin = config.admin.api_key
    return Prepared(
        config=config,
        adapters=build_adapters(config),
        # A refused key list (the same key twice) is refused here, before anything is built.
        auth=Authenticator(config.auth.api_keys, config.auth.disabled, _policy(config)),
        admin_key=Authenticator([admin]) if admin is not None else None,
    )


def _policy(config: Config) -> Policy | None:
    return Policy(config.auth.keys, config.auth.api_keys) if config.auth.keys else None


def config_secrets(config: Config) -> list[str]:
    keys = [p.api_key.value for p in config.providers.values() if p.api_key is not None]
    keys += [k.value for k in config.auth.api_keys]
    keys += [k.key.value for k in config.auth.keys if not k.key.value.startswith("sha256:")]
    if config.admin.api_key is not None:
        keys.append(config.admin.api_key.value)
    return keys


class Gateway:
    """Owns the current AppState; builds it at startup and on every reload. Owns the pools
    of retired routes too, until they are closed (after a grace, or at shutdown)."""

    def __init__(
        self,
        config: Config,
        transport_factory: TransportFactory,
        lifecycle: Lifecycle,
        load: Callable[[], Config] | None = None,
        manage_heap: bool = False,
    ) -> None:
        self._initial = config
        self._manage_heap = manage_heap  # the server process's own heap (heap.py)
        self._transport_factory = transport_factory
        self._load = load
        self.lifecycle = lifecycle
        self.state: AppState | None = None
        self._retiring: dict[int, Route] = {}  # id(route) -> route whose pool is not closed
        self._retiring_stores: dict[int, ByteStore] = {}  # replaced caches not yet closed
        self._closers: set[asyncio.Task[None]] = set()
        self._reloading = asyncio.Lock()
        self._tracing: Tracing | None = None  # the exporter, made when first enabled
        self._store: Store | None = None
        self._limiter: Limiter | None = None

    def start(self) -> None:
        # One store for the process's life: a reload keeps every counter. A changed
        # `state:` section takes effect at the next restart.
        state = self._initial.state
        self._store = build_store(state, BackendErrors(metrics.observe_state_error))
        # A lease outlives any request (its deadline), so only a crashed replica's expires.
        self._limiter = Limiter(self._store, self._initial.server.request_timeout + 60)
        self._start_tracing(self._initial)
        self.state = self._build(prepare(self._initial), None)
        if self._manage_heap:
            heap.settle()

    async def reload(self) -> tuple[bool, str]:
        """Re-read the config; on any error keep the current one. Returns (ok, message)."""
        if self._load is None:
            return False, "this server was started without a config file to reload"
        async with self._reloading:  # two reloads at once would retire each other's routes
            try:
                # Reading and parsing the file would block the loop (and every request).
                prepared = await asyncio.to_thread(self._load_prepared, self._load)
                self._start_tracing(prepared.config)
            except ConfigError as exc:
                log.error("reload refused, keeping the current config: %s", exc)
                return False, f"reload refused: {exc}"
            old = self.state
            assert old is not None
            self.state = self._build(prepared, old)
            config = prepared.config
            self.lifecycle.max_in_flight = config.server.max_in_flight
            self.lifecycle.drain_timeout = config.server.drain_timeout
            dropped = [r for n, r in old.routes.items() if self.state.routes.get(n) is not r]
            if dropped:
                self._retire(dropped, old.config.server.request_timeout)
            store = retired_store(old.cache, self.state.cache)
            if store is not None:
                self._retire_store(store, old.config.server.request_timeout)
            if self._manage_heap:  # the old config is garbage once its requests are done
                heap.thaw()
                self._track(self._settle_heap_after(old.config.server.request_timeout))
        log_fields(log, logging.WARNING, "config reloaded", models=sorted(config.models))
        return True, "reloaded"

    async def aclose(self) -> None:
        """Close every pool: the current routes' and the retiring ones'."""
        for task in self._closers:
            task.cancel()
        await asyncio.gather(*self._closers, return_exceptions=True)
        routes = list(self._retiring.values())
        if self.state is not None:
            routes += self.state.routes.values()
        self._retiring.clear()
        for route in routes:
            await route.upstream.aclose()
        stores = list(self._retiring_stores.values())
        self._retiring_stores.clear()
        if self.state is not None and self.state.cache is not None:
            stores.append(self.state.cache.store)
        for store in stores:
            await store.aclose()
        if self._store is not None:
            await self._store.close()
        if self._tracing is not None:
            config = self.state.config if self.state is not None else self._initial
            await self._tracing.aclose(config.tracing.flush_timeout)

    @staticmethod
    def _load_prepared(load: Callable[[], Config]) -> Prepared:
        return prepare(load())

    def _build(self, prepared: Prepared, old: AppState | None) -> AppState:
        config = prepared.config
        assert self._store is not None and self._limiter is not None
        register_secrets(config_secrets(config))
        metrics.set_enabled(config.admin.metrics)
        routes = {
            name: self._route(config, config.providers[name], adapter, old)
            for name, adapter in prepared.adapters.items()
        }
        public = [m for m in config.models if config.enabled_deployments(m)]
        # Only new routes start at "closed": a kept route keeps its breaker, and its gauge.
        kept = {id(r) for r in old.routes.values()} if old is not None else set()
        metrics.prebind(config.models, [n for n, r in routes.items() if id(r) not in kept])
        created = int(time.time())
        # Provider 429 cooldowns are shared only through a store other replicas can see.
        shared = self._store if self._initial.state.backend == "redis" else None
        return AppState(
            config=config,
            auth=prepared.auth,
            router=Router(config, routes, shared),
            routes=routes,
            models_body=models_body(public, created),
            model_objects={n: orjson.dumps(model_object(n, created)) for n in public},
            public_models=frozenset(config.models),
            admin_key=prepared.admin_key,
            cache=build_cache(config, old.cache if old else None, old.config if old else None),
            tracer=self._tracer(config),
            gate=TenantGate(self._limiter, config),
            store=self._store,
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
            # The cap is fixed in the breaker when it is built: a new cap needs a new one.
            and old.config.server.max_cooldown == config.server.max_cooldown
        ):
            return previous  # unchanged: keep its pool and its breaker state
        transport = in_process_transport(provider) or self._transport_factory(provider)
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

    def _retire(self, routes: list[Route], grace: float) -> None:
        for route in routes:
            self._retiring[id(route)] = route
        self._track(self._close_after(routes, grace))

    def _retire_store(self, store: ByteStore, grace: float) -> None:
        self._retiring_stores[id(store)] = store
        self._track(self._close_store_after(store, grace))

    def _track(self, work: Coroutine[object, object, None]) -> None:
        """Run `work` in a task that shutdown cancels (aclose)."""
        task = asyncio.create_task(work)
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    @staticmethod
    async def _settle_heap_after(grace: float) -> None:
        await asyncio.sleep(grace + 1)  # past the old config's last request deadline
        heap.settle()

    async def _close_store_after(self, store: ByteStore, grace: float) -> None:
        await asyncio.sleep(grace)  # requests of the old config may still be using it
        await store.aclose()
        del self._retiring_stores[id(store)]  # after the close: aclose() finishes a cut one

    async def _close_after(self, routes: list[Route], grace: float) -> None:
        # In-flight requests of the old config may still be using these pools.
        await asyncio.sleep(grace)
        for route in routes:
            await route.upstream.aclose()
            del self._retiring[id(route)]  # after the close: aclose() finishes a cut one
