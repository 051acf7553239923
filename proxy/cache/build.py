"""The ResponseCache of a config, built at startup and on reload; None when no model is
cached (then a request pays nothing for the feature)."""

from __future__ import annotations

from proxy.cache.service import ResponseCache
from proxy.cache.store import ByteStore, MemoryStore
from proxy.config import Config


def build_cache(
    config: Config, old: ResponseCache | None, old_config: Config | None
) -> ResponseCache | None:
    """A reload with the same cache and state settings keeps the store (and its entries)."""
    models = config.cache.cached_models(config.models)
    if not models:
        return None
    wait = config.server.request_timeout
    if old is not None and old_config is not None and _same_store(old_config, config):
        cache = ResponseCache(config.cache, old.store, models, wait)
        cache.flights, cache.counts = old.flights, old.counts
        return cache
    return ResponseCache(config.cache, _store(config), models, wait)


def retired_store(old: ResponseCache | None, new: ResponseCache | None) -> ByteStore | None:
    """The old cache's store if the new state no longer uses it (to be closed)."""
    if old is None or (new is not None and new.store is old.store):
        return None
    return old.store


def _store(config: Config) -> ByteStore:
    if config.cache.backend == "memory":
        return MemoryStore(config.cache.max_bytes)
    # Imported only when used: redis-py costs startup time a memory-only proxy need not pay.
    from proxy.cache.redis_store import RedisByteStore

    state = config.state
    assert state.redis_url is not None  # checked by parse_cache
    return RedisByteStore(state.redis_url.value, state.key_prefix, state.timeout_ms)


def _same_store(old: Config, new: Config) -> bool:
    if old.cache != new.cache:
        return False
    return new.cache.backend == "memory" or old.state == new.state
