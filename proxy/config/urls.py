"""Upstream base URLs: only http(s) from config, no credentials, never link-local hosts."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from proxy.config.values import ConfigError


def parse_base_url(url: str, path: str) -> str:
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
