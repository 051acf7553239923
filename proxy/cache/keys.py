"""The cache key: SHA-256 over the scope, the endpoint, the public model and the canonical
JSON of every request field that can change the answer (sorted keys; `stream`,
`stream_options` and `user` left out). Never a raw payload as a key (issue 12)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from proxy.auth import _presented_key

# These change the form of the answer, or only attribute it, never its content.
_IGNORED = frozenset({"stream", "stream_options", "user"})
ENDPOINT = "chat.completions"
GLOBAL = "global"
ANONYMOUS = "anonymous"  # auth disabled and no key presented: the only scope there is


def request_scope(
    global_scope: bool, name: str | None, authorization: str | None, x_api_key: str | None
) -> str:
    """The scope of a request, from the headers it authenticated with."""
    if global_scope:
        return GLOBAL
    return scope_of(False, name, _presented_key(authorization, x_api_key))


def scope_of(global_scope: bool, name: str | None, presented_key: str | None) -> str:
    """Whose entries these are. With `scope: key`, the key's name (issue 11's identity) and
    the hash of the key itself: two different secrets never share an entry, an anonymous
    key ("-") is scoped by its hash, and the key never appears in the scope."""
    if global_scope:
        return GLOBAL
    if presented_key is None:
        return ANONYMOUS if name is None else f"name:{name}"
    digest = hashlib.sha256(presented_key.encode("utf-8", "surrogateescape")).hexdigest()
    return f"key:{digest}" if name is None or name == "-" else f"name:{name}:{digest}"


def cache_key(scope: str, model: str, body: dict[str, Any]) -> str:
    """The hex digest naming an answer; raises TypeError if the body cannot be canonical."""
    fields = {k: v for k, v in body.items() if k not in _IGNORED}
    canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    h = hashlib.sha256()
    for part in (scope, ENDPOINT, model):
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\x00")  # a separator no part can forge the boundary of
    h.update(canonical)
    return h.hexdigest()


def model_tag(model: str) -> str:
    """A short fixed-charset stand-in for a model name in backend keys (globs and spaces in
    model names must not reach a Redis SCAN pattern)."""
    return hashlib.sha256(model.encode("utf-8", "surrogateescape")).hexdigest()[:16]
