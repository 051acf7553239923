"""A provider's extra `headers:` and `query:`, added to every upstream request it gets.

For attribution and routing headers (OpenRouter's `HTTP-Referer` / `X-Title`,
`OpenAI-Organization`, `OpenAI-Project`) and fixed query parameters. Credentials have their
own field (`api_key`, held as a Secret and redacted), so auth headers are refused here, as
are hop-by-hop and framing headers, which belong to the HTTP client.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from proxy.config.values import ConfigError, expand_vars, mapping

# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
_CREDENTIALS = frozenset(
    {"authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie", "proxy-authorization"}
)
_OURS = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "te", "trailer", "transfer-encoding",
        "upgrade", "host", "content-length", "content-type", "accept-encoding", "x-request-id",
        "traceparent", "tracestate",  # the attempt span's, when tracing is on (tracing.py)
    }
)  # fmt: skip
_CREDENTIAL_PARAMS = frozenset({"key", "api_key", "api-key", "access_token"})
MAX_ENTRIES = 32
MAX_VALUE = 1024


def parse_headers(
    raw: Any, path: str, env: Mapping[str, str]
) -> tuple[Mapping[str, str], tuple[str, ...]]:
    """-> (lower-cased name -> expanded value, missing variables)."""
    values, missing = _parse_pairs(raw, path, env)
    for name in values:
        where = f"{path}.{name}"
        if not _TOKEN.fullmatch(name):
            raise ConfigError(f"{where}: not a valid header name")
        lowered = name.lower()
        if lowered in _CREDENTIALS:
            raise ConfigError(f"{where}: credentials go in api_key, not in headers")
        if lowered in _OURS:
            raise ConfigError(f"{where}: set by the proxy itself; it cannot be configured")
    headers = {name.lower(): value for name, value in values.items()}
    return MappingProxyType(headers), missing


def parse_query(
    raw: Any, path: str, env: Mapping[str, str]
) -> tuple[Mapping[str, str], tuple[str, ...]]:
    values, missing = _parse_pairs(raw, path, env)
    for name in values:
        if not name or name.lower() in _CREDENTIAL_PARAMS:
            # A key in a URL ends up in access logs and error messages.
            raise ConfigError(f"{path}.{name}: credentials go in api_key, never in the URL")
    return MappingProxyType(dict(values)), missing


def _parse_pairs(
    raw: Any, path: str, env: Mapping[str, str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    data = mapping(raw if raw is not None else {}, path)
    if len(data) > MAX_ENTRIES:
        raise ConfigError(f"{path}: at most {MAX_ENTRIES} entries")
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, value in data.items():
        where = f"{path}.{name}"
        if (
            not isinstance(name, str)
            or isinstance(value, bool)
            or not isinstance(value, str | int | float)
        ):
            raise ConfigError(f"{where}: expected a string value")
        text, unset = expand_vars(str(value), env)
        missing.extend(v for v in unset if v not in missing)
        if len(text) > MAX_VALUE or any(c in text for c in "\r\n\0"):
            raise ConfigError(f"{where}: values are one line of at most {MAX_VALUE} characters")
        values[name] = text
    return values, tuple(missing)
