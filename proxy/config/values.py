"""Small typed readers shared by the config sections: ${VAR} expansion, mappings, numbers.

Every error names the YAML path and what was expected.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from typing import Any

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A config problem; str() is one line that starts with the YAML path."""


# A value echoed in an error is bounded: a YAML alias bomb is a small graph that a plain
# repr() expands to gigabytes (issue 16, item 12). reprlib caps depth, items and length.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 2, 60, 60
_SHOWN.maxlist = _SHOWN.maxdict = _SHOWN.maxtuple = 4


def shown(value: Any) -> str:
    """A bounded repr of a YAML value for an error message. Never pass an expanded ${VAR}:
    say where the bad value is, not what it is, once a secret may be in it."""
    return _SHOWN.repr(value)


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


def expand_required(raw: Any, path: str, env: Mapping[str, str]) -> str:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{path}: expected a string")
    value, missing = expand_vars(raw, env)
    if missing:
        raise ConfigError(f"{path}: environment variable {', '.join(missing)} is not set")
    return value


def mapping(raw: Any, path: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(raw).__name__}")
    return raw


def reject_unknown(data: Mapping[str, Any], path: str, known: set[str]) -> None:
    for key in data:
        if key not in known:
            where = path if path != "(top level)" else ""
            name = key if isinstance(key, str) else shown(key)
            full = f"{where}.{name}" if where else name
            raise ConfigError(f"{full}: unknown key (expected one of: {', '.join(sorted(known))})")


def number(
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
        raise ConfigError(f"{path}.{key}: expected {kind}, got {shown(value)}")
    if value < minimum:
        raise ConfigError(f"{path}.{key}: expected a value >= {minimum}, got {shown(value)}")
    return float(value)


def boolean(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}.{key}: expected true or false, got {shown(value)}")
    return value
