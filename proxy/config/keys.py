"""The `auth.keys:` list: named client keys (tenants) with model access, limits and a budget.

Each entry becomes a frozen `NamedKey`; the key itself stays in a `Secret` (or is given as a
`sha256:<64 hex>` digest). Enforcement lives in `proxy/tenancy/`; this module only validates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from proxy.config.values import (
    ConfigError,
    Secret,
    expand_required,
    mapping,
    number,
    reject_unknown,
    shown,
)

BudgetPeriod = Literal["day", "month", "total"]
_PERIODS: tuple[BudgetPeriod, ...] = ("day", "month", "total")
_NAME = re.compile(r"[a-z0-9_.-]{1,64}")
_DIGEST = re.compile(r"sha256:[0-9a-fA-F]{64}")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class KeyLimits:
    rpm: int | None = None  # requests per sliding minute
    tpm: int | None = None  # tokens (prompt estimate + max output, reconciled) per sliding minute
    max_in_flight: int | None = None  # concurrent requests


@dataclass(frozen=True)
class Budget:
    usd: float
    period: BudgetPeriod  # UTC calendar day or month, or the key's whole life


@dataclass(frozen=True)
class NamedKey:
    name: str  # the label in metrics, logs and /admin/keys; never the key
    key: Secret  # the key, or "sha256:<64 hex>"
    models: tuple[str, ...] | None = None  # public names or globs; None: every model
    limits: KeyLimits = KeyLimits()
    budget: Budget | None = None
    expires: dt.datetime | None = None  # first instant (UTC) at which the key is rejected


def parse_keys(raw: Any, env: Mapping[str, str]) -> tuple[NamedKey, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("auth.keys: expected a list of named keys")
    keys = tuple(_parse_key(item, f"auth.keys[{i}]", env) for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, named in enumerate(keys):
        if named.name in seen:
            raise ConfigError(f"auth.keys[{i}].name: duplicate name {shown(named.name)}")
        seen.add(named.name)
    return keys


def check_key_models(keys: Iterable[NamedKey], models: Iterable[str]) -> None:
    """A plain (non-glob) model name must be a configured public model: catches typos at startup."""
    known = set(models)
    for i, named in enumerate(keys):
        for j, name in enumerate(named.models or ()):
            if not _GLOB_CHARS.intersection(name) and name not in known:
                raise ConfigError(
                    f"auth.keys[{i}].models[{j}]: unknown model {shown(name)} "
                    f"(known: {', '.join(sorted(known))})"
                )


def _parse_key(raw: Any, path: str, env: Mapping[str, str]) -> NamedKey:
    data = mapping(raw, path)
    reject_unknown(data, path, {"name", "key", "models", "limits", "budget", "expires"})
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{path}.name: expected 1 to 64 of [a-z0-9_.-], got {shown(name)}")
    if "key" not in data:
        raise ConfigError(f"{path}.key: required (the key, or sha256:<64 hex>)")
    value = expand_required(data["key"], f"{path}.key", env)
    if value.startswith("sha256:"):
        if not _DIGEST.fullmatch(value):
            raise ConfigError(f"{path}.key: sha256: must be followed by 64 hex digits")
    elif len(value) < 8:
        raise ConfigError(f"{path}.key: a client key must be at least 8 characters")
    return NamedKey(
        name=name,
        key=Secret(value),
        models=_models(data.get("models"), f"{path}.models"),
        limits=_limits(data.get("limits"), f"{path}.limits"),
        budget=_budget(data.get("budget"), f"{path}.budget"),
        expires=_expires(data.get("expires"), f"{path}.expires"),
    )


def _models(raw: Any, path: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: expected a non-empty list of model names or globs")
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{path}[{i}]: expected a model name or glob, got {shown(item)}")
    return tuple(raw)


def _limits(raw: Any, path: str) -> KeyLimits:
    data = mapping(raw, path)
    reject_unknown(data, path, {"rpm", "tpm", "max_in_flight"})

    def read(key: str) -> int | None:
        return int(number(data, key, path, 0, 1, integer=True)) if key in data else None

    return KeyLimits(rpm=read("rpm"), tpm=read("tpm"), max_in_flight=read("max_in_flight"))


def _budget(raw: Any, path: str) -> Budget | None:
    if raw is None:
        return None
    data = mapping(raw, path)
    reject_unknown(data, path, {"usd", "period"})
    if "usd" not in data:
        raise ConfigError(f"{path}.usd: required (the budget in US dollars)")
    usd = number(data, "usd", path, 0.0, 0.0)
    period = data.get("period")
    if period not in _PERIODS:
        raise ConfigError(f"{path}.period: expected one of day, month, total, got {shown(period)}")
    return Budget(usd=usd, period=period)


def _expires(raw: Any, path: str) -> dt.datetime | None:
    """A date means "valid through that UTC day"; a timestamp is the instant itself."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = dt.date.fromisoformat(raw)
        except ValueError:
            raise ConfigError(f"{path}: expected a date YYYY-MM-DD, got {shown(raw)}") from None
    if isinstance(raw, dt.datetime):
        return raw.replace(tzinfo=dt.UTC) if raw.tzinfo is None else raw.astimezone(dt.UTC)
    if isinstance(raw, dt.date):
        return dt.datetime(raw.year, raw.month, raw.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    raise ConfigError(f"{path}: expected a date YYYY-MM-DD, got {shown(raw)}")
