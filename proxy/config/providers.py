"""The `providers:` section: one upstream account each (type, URL, key, timeouts, pool, breaker).

An unset variable in a provider's `api_key` disables that provider with one warning instead of
failing startup, so the example config runs on a machine with no provider keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from proxy.config.urls import parse_base_url
from proxy.config.values import (
    ConfigError,
    Secret,
    boolean,
    expand_required,
    expand_vars,
    mapping,
    number,
    reject_unknown,
    shown,
)

ProviderType = Literal["openai", "anthropic", "gemini", "mock"]
PROVIDER_TYPES: tuple[ProviderType, ...] = ("openai", "anthropic", "gemini", "mock")
_NEEDS_KEY: frozenset[str] = frozenset({"anthropic", "gemini"})


@dataclass(frozen=True)
class BreakerConfig:
    fail_max: int = 5
    reset_timeout: float = 30.0
    success_threshold: int = 1


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    type: ProviderType
    base_url: str
    api_key: Secret | None
    timeout: float = 60.0  # longest wait for the first upstream byte and for each gap
    connect_timeout: float = 5.0
    ttfb_timeout: float = 60.0  # until the response headers (and a stream's first event)
    idle_timeout: float = 60.0  # longest gap between two upstream body reads
    retries: int = 0  # extra attempts on the same deployment, with jittered backoff
    retry_backoff: float = 0.25  # seconds; doubled per retry, full jitter
    max_connections: int = 100
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    drop_unsupported: bool = False
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    missing_vars: tuple[str, ...] = ()  # non-empty -> the provider is disabled

    @property
    def enabled(self) -> bool:
        return not self.missing_vars


def parse_providers(
    raw: Any, env: Mapping[str, str], warnings: list[str]
) -> dict[str, ProviderConfig]:
    section = mapping(raw, "providers")
    if not section:
        raise ConfigError("providers: expected at least one provider")
    providers = {}
    for name, value in section.items():
        path = f"providers.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise ConfigError(f"{path}: provider names are 1-64 letters, digits, '_', '.', '-'")
        providers[name] = _parse_provider(name, value, path, env, warnings)
    return providers


_PROVIDER_KEYS = {
    "type",
    "base_url",
    "api_key",
    "timeout",
    "connect_timeout",
    "ttfb_timeout",
    "idle_timeout",
    "retries",
    "retry_backoff",
    "max_connections",
    "breaker",
    "drop_unsupported",
    "options",
}


def _parse_provider(
    name: str, raw: Any, path: str, env: Mapping[str, str], warnings: list[str]
) -> ProviderConfig:
    data = mapping(raw, path)
    reject_unknown(data, path, _PROVIDER_KEYS)
    ptype = data.get("type")
    if ptype not in PROVIDER_TYPES:
        raise ConfigError(
            f"{path}.type: expected one of {', '.join(PROVIDER_TYPES)}, got {shown(ptype)}"
        )
    base_url = ""
    if ptype != "mock":
        url_path = f"{path}.base_url"
        base_url = parse_base_url(expand_required(data.get("base_url"), url_path, env), url_path)
    api_key, missing = _parse_api_key(data.get("api_key"), f"{path}.api_key", env)
    if api_key is None and not missing and ptype in _NEEDS_KEY:
        raise ConfigError(f"{path}.api_key: required for type {ptype}")
    if missing:
        warnings.append(
            f"provider '{name}' disabled: environment variable {', '.join(missing)} is not set"
        )
    timeout = number(data, "timeout", path, 60.0, minimum=0.001)
    return ProviderConfig(
        name=name,
        type=cast(ProviderType, ptype),
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        connect_timeout=number(data, "connect_timeout", path, 5.0, minimum=0.001),
        # The plain `timeout` keeps its meaning; the finer keys override it.
        ttfb_timeout=number(data, "ttfb_timeout", path, timeout, minimum=0.001),
        idle_timeout=number(data, "idle_timeout", path, timeout, minimum=0.001),
        retries=int(number(data, "retries", path, 0, minimum=0, integer=True)),
        retry_backoff=number(data, "retry_backoff", path, 0.25, minimum=0.0),
        max_connections=int(number(data, "max_connections", path, 100, minimum=1, integer=True)),
        breaker=_parse_breaker(data.get("breaker"), f"{path}.breaker"),
        drop_unsupported=boolean(data, "drop_unsupported", path, False),
        options=MappingProxyType(dict(mapping(data.get("options", {}), f"{path}.options"))),
        missing_vars=missing,
    )


def _parse_api_key(
    raw: Any, path: str, env: Mapping[str, str]
) -> tuple[Secret | None, tuple[str, ...]]:
    if raw is None:
        return None, ()
    if not isinstance(raw, str):
        raise ConfigError(f"{path}: expected a string such as ${{MY_PROVIDER_KEY}}")
    value, missing = expand_vars(raw, env)
    if missing:
        return None, missing
    if not value:
        raise ConfigError(f"{path}: is empty")
    return Secret(value), ()


def _parse_breaker(raw: Any, path: str) -> BreakerConfig:
    if raw is None:
        return BreakerConfig()
    data = mapping(raw, path)
    reject_unknown(data, path, {"fail_max", "reset_timeout", "success_threshold"})
    return BreakerConfig(
        fail_max=int(number(data, "fail_max", path, 5, minimum=1, integer=True)),
        reset_timeout=number(data, "reset_timeout", path, 30.0, minimum=0.0),
        success_threshold=int(number(data, "success_threshold", path, 1, minimum=1, integer=True)),
    )


def provider_option(config: ProviderConfig, key: str, kind: type, default: Any) -> Any:
    """An adapter-specific `options.<key>` of a provider, type-checked with its YAML path."""
    value = config.options.get(key, default)
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        path = f"providers.{config.name}.options.{key}"
        raise ConfigError(f"{path}: expected {kind.__name__}, got {shown(value)}")
    return value


def check_options(config: ProviderConfig, known: set[str]) -> None:
    """Reject `options` keys the provider's adapter does not understand."""
    reject_unknown(config.options, f"providers.{config.name}.options", known)
