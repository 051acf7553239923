"""Authenticator.check returns who called: ANONYMOUS for api_keys (and with auth disabled),
the named key's Identity (with its tenant) for a named key; expired and unknown keys are 401."""

from __future__ import annotations

import datetime as dt

import pytest

from proxy.auth import ANONYMOUS, Authenticator
from proxy.config import NamedKey, Secret
from proxy.errors import ProxyError
from proxy.tenancy.policy import Policy

ANON_KEY = "anonymous-key-0123456789"
TEAM_KEY = "team-key-0123456789"
OLD_KEY = "old-key-0123456789"


def authenticator() -> Authenticator:
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    keys = [
        NamedKey(name="team", key=Secret(TEAM_KEY)),
        NamedKey(name="old", key=Secret(OLD_KEY), expires=past),
    ]
    return Authenticator([Secret(ANON_KEY)], policy=Policy(keys, [Secret(ANON_KEY)]))


def test_anonymous_key_is_anonymous() -> None:
    who = authenticator().check(f"Bearer {ANON_KEY}", None)
    assert who is ANONYMOUS and who.name == "-" and who.tenant is None


def test_named_key_carries_its_tenant_and_is_not_allocated_per_call() -> None:
    auth = authenticator()
    who = auth.check(None, TEAM_KEY)
    assert who.name == "team" and who.tenant is not None and who.tenant.name == "team"
    assert auth.check(f"Bearer {TEAM_KEY}", None) is who


@pytest.mark.parametrize("key", [OLD_KEY, "unknown-key-0123456789", ""])
def test_expired_or_unknown_named_key_is_401(key: str) -> None:
    with pytest.raises(ProxyError) as caught:
        authenticator().check(f"Bearer {key}" if key else None, None)
    assert caught.value.status == 401


def test_disabled_auth_and_plain_keys_have_no_policy() -> None:
    assert Authenticator([], disabled=True).check(None, None) is ANONYMOUS
    plain = Authenticator([Secret(ANON_KEY)])
    assert plain.policy is None and plain.check(f"Bearer {ANON_KEY}", None) is ANONYMOUS
