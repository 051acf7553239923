"""`auth.keys`: named keys (tenants), validated with YAML-path errors."""

from __future__ import annotations

import datetime as dt

import pytest

from proxy.config import Budget, ConfigError, KeyLimits, parse_config

BASE = """
providers:
  openai: {type: openai, base_url: "https://api.openai.com/v1", api_key: "sk-o"}
models:
  smart: [{provider: openai, model: gpt-4.1}]
  gpt-4o: [{provider: openai, model: gpt-4o}]
auth:
  keys:
"""
ENV = {"SEARCH_TEAM_KEY": "sk-search-team-1"}
DIGEST = "sha256:" + "ab" * 32


def parse(entries: str) -> object:
    return parse_config(BASE + entries, ENV)


def test_the_issue_example() -> None:
    config = parse_config(
        BASE
        + """
    - name: search-team
      key: ${SEARCH_TEAM_KEY}
      models: [smart, "gpt-*"]
      limits: {rpm: 600, tpm: 200000, max_in_flight: 20}
      budget: {usd: 50, period: month}
      expires: 2027-01-31
    - name: ops
      key: "sha256:"""
        + "ab" * 32
        + """"
""",
        ENV,
    )
    search, ops = config.auth.keys
    assert (search.name, search.key.value, search.models) == (
        "search-team",
        "sk-search-team-1",
        ("smart", "gpt-*"),
    )
    assert search.limits == KeyLimits(rpm=600, tpm=200000, max_in_flight=20)
    assert search.budget == Budget(50.0, "month")
    assert search.expires == dt.datetime(2027, 2, 1, tzinfo=dt.UTC)  # valid through Jan 31
    assert (ops.models, ops.limits, ops.budget, ops.expires) == (None, KeyLimits(), None, None)
    assert "sk-search-team-1" not in repr(config)
    assert config.auth.api_keys == ()  # named keys alone are enough


BAD = [
    ("    - {key: sk-abcdefgh}\n", "auth.keys[0].name: expected 1 to 64"),
    ("    - {name: Search, key: sk-abcdefgh}\n", "auth.keys[0].name: expected 1 to 64"),
    ("    - {name: a}\n", "auth.keys[0].key: required"),
    ("    - {name: a, key: short}\n", "auth.keys[0].key: a client key must be at least 8"),
    ("    - {name: a, key: 'sha256:abc'}\n", "auth.keys[0].key: sha256: must be followed by 64"),
    ("    - {name: a, key: '${NOPE}'}\n", "auth.keys[0].key: environment variable NOPE"),
    (
        "    - {name: a, key: sk-abcdefgh}\n    - {name: a, key: sk-ijklmnop}\n",
        "auth.keys[1].name: duplicate name 'a'",
    ),
    ("    - {name: a, key: sk-abcdefgh, colour: red}\n", "auth.keys[0].colour: unknown key"),
    (
        "    - {name: a, key: sk-abcdefgh, models: []}\n",
        "auth.keys[0].models: expected a non-empty",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, models: [smrt]}\n",
        "auth.keys[0].models[0]: unknown model 'smrt'",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, limits: {rpm: 0}}\n",
        "auth.keys[0].limits.rpm: expected a value >= 1",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, limits: {rpm: 1.5}}\n",
        "auth.keys[0].limits.rpm: expected an integer",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, limits: {rps: 1}}\n",
        "auth.keys[0].limits.rps: unknown key",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, budget: {period: day}}\n",
        "auth.keys[0].budget.usd: required",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, budget: {usd: 5, period: week}}\n",
        "auth.keys[0].budget.period: expected one of",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, budget: {usd: -1, period: day}}\n",
        "auth.keys[0].budget.usd: expected a value >= 0",
    ),
    (
        "    - {name: a, key: sk-abcdefgh, expires: tomorrow}\n",
        "auth.keys[0].expires: expected a date",
    ),
    ("    {name: a}\n", "auth.keys: expected a list"),
]


@pytest.mark.parametrize(("entries", "message"), BAD)
def test_errors_name_the_yaml_path(entries: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(entries)
    assert message in str(info.value)
    assert "sk-abcdefgh" not in str(info.value)


def test_keys_and_disabled_exclude_each_other() -> None:
    with pytest.raises(ConfigError, match="disabled"):
        parse_config(
            BASE.replace("auth:\n  keys:", "auth:\n  disabled: true\n  keys:")
            + "    - {name: a, key: sk-abcdefgh}\n",
            ENV,
        )
