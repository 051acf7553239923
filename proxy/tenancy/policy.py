"""Who may use what: a presented key -> its tenant, the tenant's models, its expiry.

Built once per config (startup and reload). Lookup hashes the presented key once and finds the
tenant in a dict by SHA-256 digest: constant time in the number of keys, and what it could
leak through timing is about the digest of the caller's own guess, never about a stored key.
Model globs are compiled into one regex here, never per request.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from proxy.config import ConfigError, NamedKey, Secret
from proxy.tenancy.store import Quota

_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True)
class Tenant:
    key: NamedKey  # its config entry (name, limits, budget); key.key is never shown
    quota: Quota
    expires_at: float | None  # epoch seconds; None: never
    _exact: frozenset[str] | None  # None: every model
    _globs: re.Pattern[str] | None

    @property
    def name(self) -> str:
        return self.key.name

    def may_use(self, model: str) -> bool:
        if self._exact is None or model in self._exact:
            return True
        return self._globs is not None and self._globs.fullmatch(model) is not None

    def visible(self, models: Iterable[str]) -> list[str]:
        """The public models this key may see in /v1/models."""
        return [m for m in models if self.may_use(m)]

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class Policy:
    def __init__(self, keys: Iterable[NamedKey], anonymous: Iterable[Secret] = ()) -> None:
        taken = {digest_of(s.value) for s in anonymous}
        by_digest: dict[bytes, Tenant] = {}
        for i, named in enumerate(keys):
            digest = digest_of(named.key.value)
            if digest in taken or digest in by_digest:
                raise ConfigError(f"auth.keys[{i}].key: the same key is configured twice")
            by_digest[digest] = tenant_of(named)
        self._by_digest = by_digest
        self.tenants: Mapping[str, Tenant] = MappingProxyType(
            {t.name: t for t in by_digest.values()}
        )

    def lookup(self, presented: str, now: float) -> Tenant | None:
        """The tenant of a presented key; None for an unknown key and for an expired one
        (an expired key is rejected exactly like an unknown one)."""
        tenant = self._by_digest.get(
            hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        )
        if tenant is None or tenant.expired(now):
            return None
        return tenant


def digest_of(value: str) -> bytes:
    """A configured key's digest (the config loader has validated `sha256:<64 hex>`)."""
    if value.startswith(_PREFIX):
        return bytes.fromhex(value[len(_PREFIX) :])
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def tenant_of(named: NamedKey) -> Tenant:
    exact: frozenset[str] | None = None
    globs: re.Pattern[str] | None = None
    if named.models is not None:
        plain = [m for m in named.models if not any(c in m for c in "*?[")]
        wild = [m for m in named.models if m not in plain]
        exact = frozenset(plain)
        if wild:
            globs = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in wild))
    limits, budget = named.limits, named.budget
    quota = Quota(
        rpm=limits.rpm,
        tpm=limits.tpm,
        in_flight=limits.max_in_flight,
        budget_micros=None if budget is None else round(budget.usd * 1_000_000),
    )
    expires = None if named.expires is None else named.expires.timestamp()
    return Tenant(named, quota, expires, exact, globs)
