"""Client authentication: `Authorization: Bearer <key>` or `x-api-key: <key>`.

Keys are held only as SHA-256 digests (config may give `sha256:<hex>` instead of the key).
An incoming key is hashed and looked up among the digests, comparing with
hmac.compare_digest against every one, so timing reveals nothing about a near miss.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from proxy.config import ConfigError, Secret
from proxy.errors import authentication_failed

_DIGEST_PREFIX = "sha256:"


class Authenticator:
    def __init__(self, keys: Iterable[Secret], disabled: bool = False) -> None:
        self.disabled = disabled
        self._digests = tuple(_digest_of(i, key.value) for i, key in enumerate(keys))

    def check(self, authorization: str | None, x_api_key: str | None) -> None:
        """Raise the 401 ProxyError unless a valid key was presented."""
        if self.disabled:
            return
        key = _presented_key(authorization, x_api_key)
        if key is None or not self._matches(key):
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
