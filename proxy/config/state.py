"""The `state:` section: where counters shared across replicas live (memory or Redis)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from proxy.config.values import (
    ConfigError,
    Secret,
    expand_vars,
    mapping,
    number,
    reject_unknown,
    shown,
)

StateBackend = Literal["memory", "redis"]
OnUnavailable = Literal["open", "closed"]
_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class StateConfig:
    backend: StateBackend = "memory"  # memory: one process; redis: shared by every replica
    redis_url: Secret | None = None  # may carry a password: never logged
    key_prefix: str = "llm-proxy:"
    timeout_ms: int = 50  # bound on every Redis call
    on_unavailable: OnUnavailable = "open"  # open: count locally; closed: 503
    replicas_hint: int = 1  # local limits while Redis is down are the limit divided by this


_STATE_KEYS = {
    "backend",
    "redis_url",
    "key_prefix",
    "timeout_ms",
    "on_unavailable",
    "replicas_hint",
}


def parse_state(raw: Any, env: Mapping[str, str]) -> StateConfig:
    data = mapping(raw, "state")
    reject_unknown(data, "state", _STATE_KEYS)
    default = StateConfig()
    backend = data.get("backend", default.backend)
    if backend not in ("memory", "redis"):
        raise ConfigError(f"state.backend: expected memory or redis, got {shown(backend)}")
    policy = data.get("on_unavailable", default.on_unavailable)
    if policy not in ("open", "closed"):
        raise ConfigError(f"state.on_unavailable: expected open or closed, got {shown(policy)}")
    prefix = data.get("key_prefix", default.key_prefix)
    if not isinstance(prefix, str):
        raise ConfigError(f"state.key_prefix: expected a string, got {shown(prefix)}")
    return StateConfig(
        backend=backend,
        redis_url=_redis_url(data.get("redis_url"), backend, env),
        key_prefix=prefix,
        timeout_ms=int(number(data, "timeout_ms", "state", default.timeout_ms, 1, integer=True)),
        on_unavailable=policy,
        replicas_hint=int(
            number(data, "replicas_hint", "state", default.replicas_hint, 1, integer=True)
        ),
    )


def _redis_url(raw: Any, backend: str, env: Mapping[str, str]) -> Secret | None:
    """Required for redis; with the memory backend an unset ${REDIS_URL} is simply unused."""
    if raw is not None and not isinstance(raw, str):
        raise ConfigError("state.redis_url: expected a string")
    value, missing = expand_vars(raw or "", env)
    if backend == "memory":
        return Secret(value) if value and not missing else None
    if missing:
        raise ConfigError(f"state.redis_url: environment variable {', '.join(missing)} is not set")
    if not value:
        raise ConfigError("state.redis_url: required when state.backend is redis")
    if not value.startswith(_SCHEMES):
        # The URL may hold a password: name the scheme rule, never echo the value.
        raise ConfigError("state.redis_url: expected a redis://, rediss:// or unix:// URL")
    return Secret(value)
