"""The `cache:` config section: defaults, validation with YAML paths, model globs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from proxy.config import ConfigError, parse_config
from proxy.config.cache import CacheConfig, parse_cache

BASE = """
providers:
  mock: {type: mock}
models:
  demo: [{provider: mock, model: m}]
  faq-one: [{provider: mock, model: m}]
  other: [{provider: mock, model: m}]
auth: {disabled: true}
"""


def test_defaults_cache_nothing() -> None:
    config = parse_config(BASE, {})
    assert config.cache == CacheConfig()
    assert config.cache.cached_models(config.models) == frozenset()


def test_names_and_globs() -> None:
    config = parse_config(BASE + 'cache:\n  models: [demo, "faq-*", typo]\n', {})
    assert config.cache.cached_models(config.models) == {"demo", "faq-one"}
    assert "cache.models: 'typo' matches no model" in config.warnings


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"backend": "disk"}, "cache.backend: expected memory or redis"),
        ({"backend": "redis"}, "cache.backend: redis needs state.redis_url"),
        ({"scope": "tenant"}, "cache.scope: expected key or global"),
        ({"ttl": 0}, "cache.ttl: expected a value >= 1"),
        ({"ttl": 100, "max_ttl": 10}, "cache.ttl: 100 is more than cache.max_ttl (10)"),
        ({"max_bytes": "big"}, "cache.max_bytes: expected an integer"),
        ({"max_entry_bytes": 0}, "cache.max_entry_bytes: expected a value >= 1"),
        ({"coalesce": "yes"}, "cache.coalesce: expected true or false"),
        ({"models": "demo"}, "cache.models: expected a list"),
        ({"models": [3]}, "cache.models[0]: expected a model name or glob"),
        ({"size": 1}, "cache.size: unknown key"),
    ],
)
def test_invalid(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_cache(raw, redis_configured=False)


def test_redis_backend_uses_state_redis_url() -> None:
    text = BASE + "state:\n  redis_url: redis://127.0.0.1:1/0\ncache:\n  backend: redis\n"
    assert parse_config(text, {}).cache.backend == "redis"
