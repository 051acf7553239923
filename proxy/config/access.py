"""The `auth:` and `admin:` sections: who may call the proxy and its admin endpoints."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxy.config.keys import NamedKey, parse_keys
from proxy.config.values import (
    ConfigError,
    Secret,
    boolean,
    expand_required,
    expand_vars,
    mapping,
    reject_unknown,
    shown,
)


@dataclass(frozen=True)
class AdminConfig:
    port: int | None = None  # serve /metrics and /admin/* on this port instead of the main one
    # The admin port's bind address: loopback unless the config opens it (Prometheus in a
    # cluster scrapes the pod IP: set 0.0.0.0 there, with api_key and a NetworkPolicy).
    host: str = "127.0.0.1"
    api_key: Secret | None = None  # bearer key for /metrics and /admin/*
    metrics: bool = True  # false: no Prometheus observations at all


@dataclass(frozen=True)
class AuthConfig:
    api_keys: tuple[Secret, ...] = ()
    disabled: bool = False
    keys: tuple[NamedKey, ...] = ()  # named keys (tenants): see proxy/config/keys.py


def parse_admin(raw: Any, env: Mapping[str, str]) -> AdminConfig:
    data = mapping(raw if raw is not None else {}, "admin")
    reject_unknown(data, "admin", {"port", "host", "api_key", "metrics"})
    port = data.get("port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise ConfigError(f"admin.port: expected a TCP port number, got {shown(port)}")
    key = None
    if "api_key" in data:
        value = expand_required(data["api_key"], "admin.api_key", env)
        if len(value) < 8:
            raise ConfigError("admin.api_key: must be at least 8 characters")
        key = Secret(value)
    return AdminConfig(
        port=port,
        host=_bind_address(data.get("host", "127.0.0.1")),
        api_key=key,
        metrics=boolean(data, "metrics", "admin", True),
    )


def _bind_address(raw: Any) -> str:
    try:
        if not isinstance(raw, str):  # ip_address() would take an integer
            raise ValueError
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise ConfigError(
            f"admin.host: expected an IP address to bind (such as 127.0.0.1), got {shown(raw)}"
        ) from None


_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def _client_key(value: str, path: str) -> Secret:
    """A key, or `sha256:<64 hex>`, checked here so that a bad digest fails validation (and
    a reload) before anything is built from it (issue 10, item 3)."""
    if value.startswith("sha256:"):
        if not _DIGEST.fullmatch(value[len("sha256:") :]):
            raise ConfigError(f"{path}: sha256: must be followed by 64 hex digits")
    elif len(value) < 8:
        raise ConfigError(f"{path}: a client key must be at least 8 characters")
    return Secret(value)


def parse_auth(raw: Any, env: Mapping[str, str]) -> AuthConfig:
    data = mapping(raw if raw is not None else {}, "auth")
    reject_unknown(data, "auth", {"api_keys", "disabled", "keys"})
    disabled = boolean(data, "disabled", "auth", False)
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
            keys.append(_client_key(value, f"auth.api_keys[{i}]"))
    named = parse_keys(data.get("keys"), env)
    if disabled and (keys or named):
        raise ConfigError("auth: 'disabled: true' and api_keys exclude each other")
    if not disabled and not keys and not named:
        hint = f" (set {', '.join(missing)})" if missing else ""
        raise ConfigError(
            f"auth.api_keys: no client key is configured{hint}; "
            "to run without authentication write 'auth: {disabled: true}'"
        )
    return AuthConfig(api_keys=tuple(keys), disabled=disabled, keys=named)
