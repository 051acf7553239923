"""The cache of a config: none when no model is cached (the request path then does
nothing), and a reload keeps the store only when the cache and state settings are the same."""

from __future__ import annotations

from proxy.cache.build import build_cache, retired_store
from proxy.config import Config, parse_config

BASE = """
providers:
  mock: {type: mock}
models:
  demo: [{provider: mock, model: m}]
auth: {disabled: true}
"""


def config(extra: str = "") -> Config:
    return parse_config(BASE + extra, {})


def test_no_cached_model_no_cache() -> None:
    assert build_cache(config(), None, None) is None
    assert build_cache(config("cache:\n  models: [other]\n"), None, None) is None


def test_reload_keeps_the_store_only_for_the_same_settings() -> None:
    first_config = config("cache:\n  models: [demo]\n")
    first = build_cache(first_config, None, None)
    assert first is not None and first.models == {"demo"} and first.store.backend == "memory"
    same = build_cache(config("cache:\n  models: [demo]\n"), first, first_config)
    assert same is not None and same.store is first.store and same.flights is first.flights
    assert retired_store(first, same) is None
    changed = build_cache(
        config("cache:\n  models: [demo]\n  max_bytes: 10\n"), first, first_config
    )
    assert changed is not None and changed.store is not first.store
    assert retired_store(first, changed) is first.store
    assert retired_store(first, None) is first.store


def test_redis_backend_from_state() -> None:
    redis_config = config(
        "state:\n  redis_url: redis://127.0.0.1:1/0\n  timeout_ms: 20\n"
        "cache:\n  models: [demo]\n  backend: redis\n"
    )
    cache = build_cache(redis_config, None, None)
    assert cache is not None and cache.store.backend == "redis"
