"""A provider's configured `headers:` and `query:` (config/headers.py), merged in at startup.

Adapters call these once, in `__init__`, so the merged headers and URLs are constants and
a provider without extras pays nothing per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlencode

from proxy.config import ProviderConfig


def with_headers(config: ProviderConfig, headers: dict[str, str]) -> Mapping[str, str]:
    """The adapter's own headers plus the configured ones (validated not to clash with
    credentials or framing, so the adapter's own names always survive)."""
    return MappingProxyType({**config.headers, **headers})


def with_query(config: ProviderConfig, url: str) -> str:
    """`url` with the configured query parameters appended (after any it already has)."""
    if not config.query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(dict(config.query))}"
