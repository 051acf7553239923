"""Duplicate JSON keys: the passthrough sends what the proxy validated, not the client's bytes.

orjson keeps the last value of a duplicated key, and that is what the proxy routes on and
validates. An upstream that keeps the first value must not see anything else, so the
forwarded body has each key once, with the validated value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.config import parse_config
from proxy.providers import build_adapter
from proxy.request import parse_chat_request
from proxy.router import new_context

YAML = """
providers:
  a: {type: openai, base_url: "http://a.test/v1"}
models:
  gpt: [{provider: a, model: gpt}]
auth: {disabled: true}
"""


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # What a parser that keeps the first of duplicated keys sees.
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


CASES = [
    # (client bytes, what the proxy validated: the last values)
    (
        b'{"model": "unrouted", "model": "gpt", "messages": [{"role": "user", "content": "hi"}]}',
        {"model": "gpt"},
    ),
    (
        b'{"model": "gpt", "temperature": 99, "temperature": 1,'
        b' "messages": [{"role": "user", "content": "hi"}]}',
        {"temperature": 1},
    ),
    (
        b'{"model": "gpt", "messages": [{"role": "wizard", "role": "user", "content": "hi"}]}',
        {"messages": [{"role": "user", "content": "hi"}]},
    ),
]


@pytest.mark.parametrize(("raw", "validated"), CASES, ids=["model", "temperature", "nested-role"])
def test_upstream_sees_the_validated_values(raw: bytes, validated: dict[str, Any]) -> None:
    config = parse_config(YAML, {})
    adapter = build_adapter(config.providers["a"])
    req = parse_chat_request(raw)
    sent = adapter.build_request(req, new_context(req, "chatcmpl-1")).body
    seen_by_upstream = json.loads(sent, object_pairs_hook=_first_wins)
    assert seen_by_upstream == req.body
    for key, value in validated.items():
        assert seen_by_upstream[key] == value
