"""Client authentication: `Authorization: Bearer <key>` or `x-api-key: <key>`.

Keys are held only as SHA-256 digests (config may give `sha256:<hex>` instead of the key).
An incoming key is hashed and looked up among the digests, comparing with
hmac.compare_digest against every one, so timing reveals nothing about a near miss.
`check` returns who called: ANONYMOUS for an `api_keys` key (or with auth disabled), or the
named key's Identity with its tenant policy (proxy/tenancy/policy.py), built once per config.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass

from proxy.config import ConfigError, Secret
from proxy.errors import authentication_failed
from proxy.tenancy.policy import Policy, Tenant

_DIGEST_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who called: `name` is the label in metrics, logs and /admin/keys ("-" for anonymous
    keys), `tenant` the named key's policy (None: no model list, no limits)."""

    name: str
    tenant: Tenant | None = None


ANONYMOUS = Identity("-")


class Authenticator:
    def __init__(
        self, keys: Iterable[Secret], disabled: bool = False, policy: Policy | None = None
    ) -> None:
        self.disabled = disabled
        self._digests = tuple(_digest_of(i, key.value) for i, key in enumerate(keys))
        # Built once per config: a named key's Identity is never allocated per request.
        self._policy = policy if policy is not None and policy.tenants else None
        self._named = (
            {}
            if self._policy is None
            else {t.name: Identity(t.name, t) for t in self._policy.tenants.values()}
        )

    @property
    def policy(self) -> Policy | None:
        return self._policy

    def check(self, authorization: str | None, x_api_key: str | None) -> Identity:
        """Who called; raise the 401 ProxyError unless a valid, unexpired key was presented."""
        if self.disabled:
            return ANONYMOUS
        key = _presented_key(authorization, x_api_key)
        if key is None:
            raise authentication_failed()
        if self._matches(key):
            return ANONYMOUS
        if self._policy is not None:
            # An expired named key is rejected exactly like an unknown one.
            tenant = self._policy.lookup(key, time.time())
            if tenant is not None:
                return self._named[tenant.name]
        raise authentication_failed()

    def _matches(self, key: str) -> bool:
        candidate = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(candidate, digest)
        return found


def _presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    if x_api_key:
        return x_api_key.strip() or None
    return None


def _digest_of(index: int, value: str) -> bytes:
    if value.startswith(_DIGEST_PREFIX):
        hexdigest = value[len(_DIGEST_PREFIX) :]
        try:
            digest = bytes.fromhex(hexdigest)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise ConfigError(f"auth.api_keys[{index}]: sha256: must be followed by 64 hex digits")
        return digest
    return hashlib.sha256(value.encode()).digest()
