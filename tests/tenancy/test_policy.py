from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from proxy.config import ConfigError, NamedKey, Secret
from proxy.tenancy.policy import Policy

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC).timestamp()


def named(name: str, key: str, **kw: object) -> NamedKey:
    return NamedKey(name=name, key=Secret(key), **kw)  # type: ignore[arg-type]


def test_lookup_by_key_or_by_configured_digest() -> None:
    digest = "sha256:" + hashlib.sha256(b"key-of-ops-team").hexdigest()
    policy = Policy([named("search", "key-of-search"), named("ops", digest)])
    found = policy.lookup("key-of-search", NOW)
    assert found is not None and found.name == "search"
    found = policy.lookup("key-of-ops-team", NOW)
    assert found is not None and found.name == "ops"
    assert policy.lookup("key-of-nobody", NOW) is None
    assert sorted(policy.tenants) == ["ops", "search"]


@pytest.mark.parametrize(
    ("expires", "at", "valid"),
    [
        (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), NOW, True),
        (dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC), NOW, False),  # the instant itself
        (dt.datetime(2026, 11, 30, 11, tzinfo=dt.UTC), NOW, False),
        (None, NOW, True),
    ],
)
def test_an_expired_key_is_rejected_like_an_unknown_one(
    expires: dt.datetime | None, at: float, valid: bool
) -> None:
    policy = Policy([named("search", "key-of-search", expires=expires)])
    assert (policy.lookup("key-of-search", at) is not None) is valid


@pytest.mark.parametrize(
    ("models", "allowed", "denied"),
    [
        (None, ["smart", "gpt-4o", "anything"], []),
        (("smart",), ["smart"], ["smarter", "gpt-4o"]),
        (("smart", "gpt-*"), ["smart", "gpt-4o", "gpt-"], ["claude", "xgpt-4o"]),
        (("claude-?-opus",), ["claude-4-opus"], ["claude-45-opus"]),
    ],
)
def test_model_access_by_names_and_globs(
    models: tuple[str, ...] | None, allowed: list[str], denied: list[str]
) -> None:
    tenant = Policy([named("t", "key-of-tenant", models=models)]).tenants["t"]
    assert all(tenant.may_use(m) for m in allowed)
    assert not any(tenant.may_use(m) for m in denied)
    assert tenant.visible([*denied, *allowed]) == allowed


def test_a_key_configured_twice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"auth\.keys\[1\]\.key: the same key"):
        Policy([named("a", "key-of-both"), named("b", "key-of-both")])
    with pytest.raises(ConfigError, match=r"auth\.keys\[0\]\.key: the same key"):
        Policy([named("a", "key-of-both")], anonymous=[Secret("key-of-both")])
