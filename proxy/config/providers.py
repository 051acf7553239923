"""The `providers:` section: one upstream account each (type, URL, key, timeouts, pool, breaker).

`preset:` (presets.py) fills `type: openai` and a vendor's base URL; `headers:` and `query:`
(headers.py) are added to every upstream request of the provider.

An unset variable in a provider's `api_key` disables that provider with one warning instead of
failing startup, so the example config runs on a machine with no provider keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from proxy.config.headers import parse_headers, parse_query
from proxy.config.presets import PRESETS, Preset
from proxy.config.server import ServerConfig
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

ProviderType = Literal["openai", "azure", "anthropic", "gemini", "mock"]
PROVIDER_TYPES: tuple[ProviderType, ...] = ("openai", "azure", "anthropic", "gemini", "mock")
_NEEDS_KEY: frozenset[str] = frozenset({"azure", "anthropic", "gemini"})
_EMPTY: Mapping[str, str] = MappingProxyType({})


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
    # Upstream connections (and requests in flight) at once; unset, it follows
    # server.max_in_flight, so the in-flight limit is the bound and no request queues for a
    # connection while the proxy still admits requests (issue 10: at LLM latencies a fixed
    # 100 capped a provider at 100 requests in flight).
    max_connections: int = ServerConfig.max_in_flight
    pool_timeout: float = 60.0  # longest wait for a free connection; not the provider's time
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    drop_unsupported: bool = False
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # Lower-cased names; added to every upstream request.
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    query: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # added to every URL
    preset: str | None = None
    missing_vars: tuple[str, ...] = ()  # non-empty -> the provider is disabled

    @property
    def enabled(self) -> bool:
        return not self.missing_vars


def parse_providers(
    raw: Any, env: Mapping[str, str], warnings: list[str], default_pool: int
) -> dict[str, ProviderConfig]:
    """`default_pool`: max_connections of a provider that sets none (server.max_in_flight)."""
    section = mapping(raw, "providers")
    if not section:
        raise ConfigError("providers: expected at least one provider")
    providers = {}
    for name, value in section.items():
        path = f"providers.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise ConfigError(f"{path}: provider names are 1-64 letters, digits, '_', '.', '-'")
        providers[name] = _parse_provider(name, value, path, env, warnings, default_pool)
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
    "pool_timeout",
    "breaker",
    "drop_unsupported",
    "options",
    "preset",
    "headers",
    "query",
}


def _parse_provider(
    name: str,
    raw: Any,
    path: str,
    env: Mapping[str, str],
    warnings: list[str],
    default_pool: int,
) -> ProviderConfig:
    data = mapping(raw, path)
    reject_unknown(data, path, _PROVIDER_KEYS)
    preset = _preset(data, path)
    ptype, base_url = _type_and_url(data, preset, path, env)
    api_key, missing = _parse_api_key(data.get("api_key"), f"{path}.api_key", env)
    needs_key = ptype in _NEEDS_KEY or (preset is not None and not preset.local)
    if api_key is None and not missing and needs_key:
        raise ConfigError(f"{path}.api_key: required for {data.get('preset') or ptype}")
    headers, unset_in_headers = parse_headers(data.get("headers"), f"{path}.headers", env)
    query, unset_in_query = parse_query(data.get("query"), f"{path}.query", env)
    missing = tuple(dict.fromkeys((*missing, *unset_in_headers, *unset_in_query)))
    if missing:
        warnings.append(
            f"provider '{name}' disabled: environment variable {', '.join(missing)} is not set"
        )
    timeout = number(data, "timeout", path, 60.0, minimum=0.001)
    ttfb_timeout = number(data, "ttfb_timeout", path, timeout, minimum=0.001)
    return ProviderConfig(
        name=name,
        type=ptype,
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        connect_timeout=number(data, "connect_timeout", path, 5.0, minimum=0.001),
        # The plain `timeout` keeps its meaning; the finer keys override it.
        ttfb_timeout=ttfb_timeout,
        idle_timeout=number(data, "idle_timeout", path, timeout, minimum=0.001),
        retries=int(number(data, "retries", path, 0, minimum=0, integer=True)),
        retry_backoff=number(data, "retry_backoff", path, 0.25, minimum=0.0),
        max_connections=int(
            number(data, "max_connections", path, default_pool, minimum=1, integer=True)
        ),
        pool_timeout=number(data, "pool_timeout", path, ttfb_timeout, minimum=0.001),
        breaker=_parse_breaker(data.get("breaker"), f"{path}.breaker"),
        drop_unsupported=boolean(data, "drop_unsupported", path, False),
        options=MappingProxyType(dict(mapping(data.get("options", {}), f"{path}.options"))),
        headers=headers,
        query=query,
        preset=data.get("preset"),
        missing_vars=missing,
    )


def _type_and_url(
    data: Mapping[str, Any], preset: Preset | None, path: str, env: Mapping[str, str]
) -> tuple[ProviderType, str]:
    """The provider's type and base URL, either of which a preset may fill."""
    ptype = data.get("type", "openai" if preset is not None else None)
    if ptype not in PROVIDER_TYPES:
        raise ConfigError(
            f"{path}.type: expected one of {', '.join(PROVIDER_TYPES)}, got {shown(ptype)}"
        )
    if preset is not None and ptype != "openai":
        raise ConfigError(f"{path}.type: a preset is an OpenAI-compatible server (type: openai)")
    if ptype == "mock":
        return "mock", ""
    url_path = f"{path}.base_url"
    raw_url = data.get("base_url", preset.base_url if preset is not None else None)
    base_url = parse_base_url(expand_required(raw_url, url_path, env), url_path)
    return cast(ProviderType, ptype), base_url


def _preset(data: Mapping[str, Any], path: str) -> Preset | None:
    name = data.get("preset")
    if name is None:
        return None
    preset = PRESETS.get(name) if isinstance(name, str) else None
    if preset is None:
        raise ConfigError(f"{path}.preset: expected one of {', '.join(PRESETS)}, got {shown(name)}")
    return preset


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
