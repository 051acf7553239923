"""providers.yaml -> frozen dataclasses, validated once at startup.

Every error names the YAML path and what was expected, e.g.
`models.smart[1].provider: unknown provider 'opeani' (known: claude, openai)`.
`${VAR}` (and `${VAR:-default}`) are expanded from the environment. An unset variable in a
provider's `api_key` disables that provider with one warning instead of failing startup, so
the example config runs on a machine with no provider keys.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import yaml

ProviderType = Literal["openai", "anthropic", "gemini", "mock"]
PROVIDER_TYPES: tuple[ProviderType, ...] = ("openai", "anthropic", "gemini", "mock")
_NEEDS_KEY: frozenset[str] = frozenset({"anthropic", "gemini"})

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A config problem; str() is one line that starts with the YAML path."""


class Secret:
    """A credential whose repr never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


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


@dataclass(frozen=True)
class Price:
    """USD per million tokens; cached input tokens are billed at `cached_per_mtok`."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_per_mtok: float = 0.0

    def cost(self, prompt: int, completion: int, cached: int) -> float:
        uncached = max(prompt - cached, 0)
        total = (
            uncached * self.input_per_mtok
            + cached * self.cached_per_mtok
            + completion * self.output_per_mtok
        )
        return total / 1_000_000


@dataclass(frozen=True)
class Deployment:
    provider: str
    model: str
    price: Price | None = None


@dataclass(frozen=True)
class AdminConfig:
    port: int | None = None  # serve /metrics and /admin/* on this port instead of the main one
    api_key: Secret | None = None  # bearer key for /metrics and /admin/*
    metrics: bool = True  # false: no Prometheus observations at all


@dataclass(frozen=True)
class AuthConfig:
    api_keys: tuple[Secret, ...] = ()
    disabled: bool = False


@dataclass(frozen=True)
class ServerConfig:
    max_body_bytes: int = 10 * 1024 * 1024
    max_response_bytes: int = 32 * 1024 * 1024
    request_timeout: float = 600.0  # total deadline for one request, all attempts included
    max_in_flight: int = 1024  # per worker; beyond it 503 + Retry-After at once
    drain_timeout: float = 25.0  # on SIGTERM: how long open streams may still run
    max_cooldown: float = 300.0  # cap on a provider's Retry-After cooldown


@dataclass(frozen=True)
class Config:
    providers: Mapping[str, ProviderConfig]
    models: Mapping[str, tuple[Deployment, ...]]
    auth: AuthConfig
    server: ServerConfig = field(default_factory=ServerConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    warnings: tuple[str, ...] = ()

    def missing_vars_of(self, model: str) -> tuple[str, ...]:
        names: list[str] = []
        for dep in self.models.get(model, ()):
            names.extend(v for v in self.providers[dep.provider].missing_vars if v not in names)
        return tuple(names)

    def enabled_deployments(self, model: str) -> tuple[Deployment, ...]:
        return tuple(d for d in self.models.get(model, ()) if self.providers[d.provider].enabled)


# --- loading ------------------------------------------------------------------------------


def load_config(path: str, env: Mapping[str, str] | None = None) -> Config:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    return parse_config(text, os.environ if env is None else env, source=path)


def parse_config(text: str, env: Mapping[str, str], source: str = "<config>") -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}: invalid YAML{where}") from exc
    root = _mapping(raw, "(top level)")
    _reject_unknown(root, "(top level)", {"providers", "models", "auth", "server", "admin"})
    warnings: list[str] = []
    providers = _parse_providers(root.get("providers"), env, warnings)
    models = _parse_models(root.get("models"), providers)
    auth = _parse_auth(root.get("auth"), env)
    server = _parse_server(root.get("server"))
    admin = _parse_admin(root.get("admin"), env)
    return Config(
        providers=MappingProxyType(providers),
        models=MappingProxyType(models),
        auth=auth,
        server=server,
        admin=admin,
        warnings=tuple(warnings),
    )


def _parse_providers(
    raw: Any, env: Mapping[str, str], warnings: list[str]
) -> dict[str, ProviderConfig]:
    section = _mapping(raw, "providers")
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
    data = _mapping(raw, path)
    _reject_unknown(data, path, _PROVIDER_KEYS)
    ptype = data.get("type")
    if ptype not in PROVIDER_TYPES:
        raise ConfigError(
            f"{path}.type: expected one of {', '.join(PROVIDER_TYPES)}, got {ptype!r}"
        )
    base_url = ""
    if ptype != "mock":
        url_path = f"{path}.base_url"
        base_url = _parse_base_url(_expand_required(data.get("base_url"), url_path, env), url_path)
    api_key, missing = _parse_api_key(data.get("api_key"), f"{path}.api_key", env)
    if api_key is None and not missing and ptype in _NEEDS_KEY:
        raise ConfigError(f"{path}.api_key: required for type {ptype}")
    if missing:
        warnings.append(
            f"provider '{name}' disabled: environment variable {', '.join(missing)} is not set"
        )
    timeout = _number(data, "timeout", path, 60.0, minimum=0.001)
    return ProviderConfig(
        name=name,
        type=cast(ProviderType, ptype),
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        connect_timeout=_number(data, "connect_timeout", path, 5.0, minimum=0.001),
        # The plain `timeout` keeps its meaning; the finer keys override it.
        ttfb_timeout=_number(data, "ttfb_timeout", path, timeout, minimum=0.001),
        idle_timeout=_number(data, "idle_timeout", path, timeout, minimum=0.001),
        retries=int(_number(data, "retries", path, 0, minimum=0, integer=True)),
        retry_backoff=_number(data, "retry_backoff", path, 0.25, minimum=0.0),
        max_connections=int(_number(data, "max_connections", path, 100, minimum=1, integer=True)),
        breaker=_parse_breaker(data.get("breaker"), f"{path}.breaker"),
        drop_unsupported=_bool(data, "drop_unsupported", path, False),
        options=MappingProxyType(dict(_mapping(data.get("options", {}), f"{path}.options"))),
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


def _parse_base_url(url: str, path: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{path}: expected an http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{path}: credentials in the URL are not allowed; use api_key")
    if parts.query or parts.fragment:
        raise ConfigError(f"{path}: must not have a query or fragment")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        address = None
    if address is not None and address.is_link_local:
        # 169.254.0.0/16 hosts cloud metadata services: never a model provider.
        raise ConfigError(f"{path}: link-local address {parts.hostname} is not allowed")
    return url.rstrip("/")


def _parse_breaker(raw: Any, path: str) -> BreakerConfig:
    if raw is None:
        return BreakerConfig()
    data = _mapping(raw, path)
    _reject_unknown(data, path, {"fail_max", "reset_timeout", "success_threshold"})
    return BreakerConfig(
        fail_max=int(_number(data, "fail_max", path, 5, minimum=1, integer=True)),
        reset_timeout=_number(data, "reset_timeout", path, 30.0, minimum=0.0),
        success_threshold=int(_number(data, "success_threshold", path, 1, minimum=1, integer=True)),
    )


def _parse_models(
    raw: Any, providers: Mapping[str, ProviderConfig]
) -> dict[str, tuple[Deployment, ...]]:
    section = _mapping(raw, "models")
    if not section:
        raise ConfigError("models: expected at least one public model name")
    models = {}
    for public, value in section.items():
        path = f"models.{public}"
        if not isinstance(public, str) or not public.strip():
            raise ConfigError(f"{path}: a public model name must be a non-empty string")
        if not isinstance(value, list) or not value:
            raise ConfigError(
                f"{path}: expected a non-empty list of {{provider, model}} deployments"
            )
        models[public] = tuple(
            _parse_deployment(item, f"{path}[{i}]", providers) for i, item in enumerate(value)
        )
    return models


def _parse_deployment(raw: Any, path: str, providers: Mapping[str, ProviderConfig]) -> Deployment:
    data = _mapping(raw, path)
    _reject_unknown(data, path, {"provider", "model", "price"})
    provider = data.get("provider")
    if not isinstance(provider, str) or provider not in providers:
        known = ", ".join(sorted(providers))
        raise ConfigError(f"{path}.provider: unknown provider {provider!r} (known: {known})")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{path}.model: expected the upstream model name as a string")
    return Deployment(provider=provider, model=model, price=_parse_price(data.get("price"), path))


def _parse_price(raw: Any, path: str) -> Price | None:
    if raw is None:
        return None
    where = f"{path}.price"
    data = _mapping(raw, where)
    _reject_unknown(data, where, {"input_per_mtok", "output_per_mtok", "cached_per_mtok"})
    input_price = _number(data, "input_per_mtok", where, 0.0, minimum=0.0)
    return Price(
        input_per_mtok=input_price,
        output_per_mtok=_number(data, "output_per_mtok", where, 0.0, minimum=0.0),
        cached_per_mtok=_number(data, "cached_per_mtok", where, input_price, minimum=0.0),
    )


def _parse_admin(raw: Any, env: Mapping[str, str]) -> AdminConfig:
    data = _mapping(raw if raw is not None else {}, "admin")
    _reject_unknown(data, "admin", {"port", "api_key", "metrics"})
    port = data.get("port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise ConfigError(f"admin.port: expected a TCP port number, got {port!r}")
    key = None
    if "api_key" in data:
        value = _expand_required(data["api_key"], "admin.api_key", env)
        if len(value) < 8:
            raise ConfigError("admin.api_key: must be at least 8 characters")
        key = Secret(value)
    return AdminConfig(port=port, api_key=key, metrics=_bool(data, "metrics", "admin", True))


def _parse_auth(raw: Any, env: Mapping[str, str]) -> AuthConfig:
    data = _mapping(raw if raw is not None else {}, "auth")
    _reject_unknown(data, "auth", {"api_keys", "disabled"})
    disabled = _bool(data, "disabled", "auth", False)
    keys_raw = data.get("api_keys", [])
    if not isinstance(keys_raw, list):
        raise ConfigError("auth.api_keys: expected a list of keys or sha256:<hex> digests")
    keys: list[Secret] = []
    missing: list[str] = []
    for i, item in enumerate(keys_raw):
        if not isinstance(item, str):
            raise ConfigError(f"auth.api_keys[{i}]: expected a string")
        value, unset = expand_vars(item, env)
        missing.extend(unset)
        if not unset:
            if len(value) < 8:
                raise ConfigError(f"auth.api_keys[{i}]: a client key must be at least 8 characters")
            keys.append(Secret(value))
    if disabled and keys:
        raise ConfigError("auth: 'disabled: true' and api_keys exclude each other")
    if not disabled and not keys:
        hint = f" (set {', '.join(missing)})" if missing else ""
        raise ConfigError(
            f"auth.api_keys: no client key is configured{hint}; "
            "to run without authentication write 'auth: {disabled: true}'"
        )
    return AuthConfig(api_keys=tuple(keys), disabled=disabled)


_SERVER_KEYS = {
    "max_body_bytes",
    "max_response_bytes",
    "request_timeout",
    "max_in_flight",
    "drain_timeout",
    "max_cooldown",
}


def _parse_server(raw: Any) -> ServerConfig:
    data = _mapping(raw if raw is not None else {}, "server")
    _reject_unknown(data, "server", _SERVER_KEYS)
    default = ServerConfig()
    return ServerConfig(
        max_in_flight=int(
            _number(data, "max_in_flight", "server", default.max_in_flight, 1, integer=True)
        ),
        drain_timeout=_number(data, "drain_timeout", "server", default.drain_timeout, 0.0),
        max_cooldown=_number(data, "max_cooldown", "server", default.max_cooldown, 0.0),
        max_body_bytes=int(
            _number(
                data, "max_body_bytes", "server", default.max_body_bytes, minimum=1, integer=True
            )
        ),
        max_response_bytes=int(
            _number(
                data, "max_response_bytes", "server", default.max_response_bytes, 1, integer=True
            )
        ),
        request_timeout=_number(data, "request_timeout", "server", default.request_timeout, 0.001),
    )


# --- small typed readers ----------------------------------------------------------------------


def expand_vars(text: str, env: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """Expand ${VAR} / ${VAR:-default}; returns the text and the names that were unset."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _VAR.sub(replace, text), tuple(missing)


def _expand_required(raw: Any, path: str, env: Mapping[str, str]) -> str:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{path}: expected a string")
    value, missing = expand_vars(raw, env)
    if missing:
        raise ConfigError(f"{path}: environment variable {', '.join(missing)} is not set")
    return value


def _mapping(raw: Any, path: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(raw).__name__}")
    return raw


def _reject_unknown(data: Mapping[str, Any], path: str, known: set[str]) -> None:
    for key in data:
        if key not in known:
            where = path if path != "(top level)" else ""
            full = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"{full}: unknown key (expected one of: {', '.join(sorted(known))})")


def _number(
    data: Mapping[str, Any],
    key: str,
    path: str,
    default: float,
    minimum: float,
    integer: bool = False,
) -> float:
    value = data.get(key, default)
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{path}.{key}: expected {kind}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{path}.{key}: expected a value >= {minimum}, got {value!r}")
    return float(value)


def _bool(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}.{key}: expected true or false, got {value!r}")
    return value


def provider_option(config: ProviderConfig, key: str, kind: type, default: Any) -> Any:
    """An adapter-specific `options.<key>` of a provider, type-checked with its YAML path."""
    value = config.options.get(key, default)
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        path = f"providers.{config.name}.options.{key}"
        raise ConfigError(f"{path}: expected {kind.__name__}, got {value!r}")
    return value


def check_options(config: ProviderConfig, known: set[str]) -> None:
    """Reject `options` keys the provider's adapter does not understand."""
    _reject_unknown(config.options, f"providers.{config.name}.options", known)
