"""Reading the YAML: alias bombs are refused before anything expands them; every failure is
a one-line ConfigError."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, parse_config, source
from proxy.config.source import load_yaml
from proxy.config.values import shown

# About 500 bytes that describe 9**9 strings (the "billion laughs"), where a bad value used
# to be repr()'d into its error message (MemoryError after half a minute).
BOMB = "\n".join(
    ["providers:", "  p:", "    options:", "      a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    + [
        f"      {c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    + ["    type: *i"]
)


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    with pytest.raises(ConfigError, match=r"^<config>: the YAML expands to more than"):
        parse_config(BOMB, {})


def test_anchors_for_shared_blocks_still_work() -> None:
    text = """
providers:
  a: {type: mock, breaker: &b {fail_max: 3, reset_timeout: 5}}
  b: {type: mock, breaker: *b}
models:
  m: [{provider: a, model: x}, {provider: b, model: y}]
auth: {disabled: true}
"""
    config = parse_config(text, {})
    assert config.providers["b"].breaker.fail_max == 3


def test_node_count_is_bounded_without_aliases_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_NODES", 50)
    assert len(load_yaml("x: [" + ",".join(["1"] * 40) + "]", "f.yaml")["x"]) == 40
    with pytest.raises(ConfigError, match=r"^f\.yaml: the YAML expands to more than 50"):
        load_yaml("x: [" + ",".join(["1"] * 50) + "]", "f.yaml")


def test_a_recursive_alias_does_not_hang() -> None:
    with pytest.raises(ConfigError):
        parse_config("providers: &p {x: *p}\n", {})


def test_shown_values_are_bounded() -> None:
    deep: list[object] = ["x" * 10_000]
    for _ in range(50):
        deep = [deep] * 50
    assert len(shown(deep)) < 200
    assert shown("opeani") == "'opeani'"


def test_bracketed_variable_in_a_url_is_a_config_error_without_the_secret() -> None:
    text = """
providers:
  p: {type: openai, base_url: "http://[${UPSTREAM}]/v1"}
models: {m: [{provider: p, model: x}]}
auth: {disabled: true}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, {"UPSTREAM": "sk-live-0123456789"})
    assert str(info.value).startswith("providers.p.base_url: ")
    assert "sk-live" not in str(info.value)
