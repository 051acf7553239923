"""The `cache:` section: which public models' answers may be cached, for how long, where."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from proxy.config.values import ConfigError, boolean, mapping, number, reject_unknown

CacheBackend = Literal["memory", "redis"]
CacheScope = Literal["key", "global"]


@dataclass(frozen=True)
class CacheConfig:
    models: tuple[str, ...] = ()  # public model names or globs ("faq-*"); none: cache off
    ttl: int = 300  # seconds an entry lives unless the request asks for less or more
    max_ttl: int = 86400  # cap on x-proxy-cache-ttl
    backend: CacheBackend = "memory"  # redis: state.redis_url, shared by every replica
    max_bytes: int = 256 * 1024 * 1024  # memory backend: total bound, LRU evicted
    max_entry_bytes: int = 4 * 1024 * 1024  # larger answers are not stored
    scope: CacheScope = "key"  # key: entries private to the client key; global: shared
    coalesce: bool = True  # identical in-flight requests share one upstream call

    def cached_models(self, names: Iterable[str]) -> frozenset[str]:
        """The public models (of `names`) whose answers may be cached, resolved once."""
        return frozenset(n for n in names if any(fnmatch.fnmatchcase(n, p) for p in self.models))


_KEYS = {"models", "ttl", "max_ttl", "backend", "max_bytes", "max_entry_bytes", "scope", "coalesce"}


def parse_cache(raw: Any, redis_configured: bool) -> CacheConfig:
    data = mapping(raw, "cache")
    reject_unknown(data, "cache", _KEYS)
    default = CacheConfig()
    backend = data.get("backend", default.backend)
    if backend not in ("memory", "redis"):
        raise ConfigError(f"cache.backend: expected memory or redis, got {backend!r}")
    if backend == "redis" and not redis_configured:
        raise ConfigError("cache.backend: redis needs state.redis_url")
    scope = data.get("scope", default.scope)
    if scope not in ("key", "global"):
        raise ConfigError(f"cache.scope: expected key or global, got {scope!r}")
    max_ttl = int(number(data, "max_ttl", "cache", default.max_ttl, 1, integer=True))
    ttl = int(number(data, "ttl", "cache", default.ttl, 1, integer=True))
    if ttl > max_ttl:
        raise ConfigError(f"cache.ttl: {ttl} is more than cache.max_ttl ({max_ttl})")
    return CacheConfig(
        models=_models(data.get("models", [])),
        ttl=ttl,
        max_ttl=max_ttl,
        backend=backend,
        max_bytes=int(number(data, "max_bytes", "cache", default.max_bytes, 1, integer=True)),
        max_entry_bytes=int(
            number(data, "max_entry_bytes", "cache", default.max_entry_bytes, 1, integer=True)
        ),
        scope=scope,
        coalesce=boolean(data, "coalesce", "cache", default.coalesce),
    )


def _models(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ConfigError("cache.models: expected a list of model names or globs")
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"cache.models[{index}]: expected a model name or glob")
    return tuple(raw)


def check_cache_models(config: CacheConfig, models: Mapping[str, object]) -> list[str]:
    """Warnings for patterns that match no configured model (a typo caches nothing)."""
    return [
        f"cache.models: {p!r} matches no model"
        for p in config.models
        if not any(fnmatch.fnmatchcase(m, p) for m in models)
    ]
