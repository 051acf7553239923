"""Config validation: every error names its YAML path; ${VAR} rules; auth rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.config import ConfigError, parse_config

GOOD = """
providers:
  openai: {type: openai, base_url: "https://api.openai.com/v1", api_key: "${OPENAI_API_KEY}"}
  claude: {type: anthropic, base_url: "https://api.anthropic.com", api_key: "${ANTHROPIC_API_KEY}"}
models:
  smart:
    - {provider: claude, model: claude-sonnet-4-5}
    - {provider: openai, model: gpt-4.1}
auth:
  api_keys: ["${PROXY_API_KEY}"]
"""
ENV = {"OPENAI_API_KEY": "sk-o", "ANTHROPIC_API_KEY": "sk-a", "PROXY_API_KEY": "client-key-1"}


def test_good_config() -> None:
    config = parse_config(GOOD, ENV)
    assert [d.provider for d in config.models["smart"]] == ["claude", "openai"]
    assert config.providers["openai"].api_key is not None
    assert config.providers["openai"].api_key.value == "sk-o"
    assert "sk-o" not in repr(config)


BAD_CASES = [
    ("providers: [1]\nmodels: {}\n", "providers: expected a mapping"),
    ("colour: red\n" + GOOD, "colour: unknown key"),
    (GOOD.replace("type: openai", "type: opeani"), "providers.openai.type: expected one of"),
    (
        GOOD.replace("type: openai,", "type: openai, tiemout: 3,"),
        "providers.openai.tiemout: unknown key",
    ),
    (
        GOOD.replace("https://api.openai.com/v1", "ftp://x"),
        "providers.openai.base_url: expected an http(s) URL",
    ),
    (
        GOOD.replace("https://api.openai.com/v1", "http://169.254.169.254/v1"),
        "providers.openai.base_url: link-local",
    ),
    (
        GOOD.replace("https://api.openai.com/v1", "https://u:p@host/v1"),
        "providers.openai.base_url: credentials",
    ),
    (
        GOOD.replace("provider: openai", "provider: opeani"),
        "models.smart[1].provider: unknown provider 'opeani' (known: claude, openai)",
    ),
    (
        GOOD.replace("model: gpt-4.1", "model: 5"),
        "models.smart[1].model: expected the upstream model name",
    ),
    (
        GOOD.replace("model: gpt-4.1}", "model: gpt-4.1, weight: 2}"),
        "models.smart[1].weight: unknown key",
    ),
    (
        GOOD.replace("type: openai,", "type: openai, timeout: fast,"),
        "providers.openai.timeout: expected a number",
    ),
    (
        GOOD.replace("type: openai,", "type: openai, timeout: -1,"),
        "providers.openai.timeout: expected a value >=",
    ),
    (
        GOOD.replace("type: openai,", "type: openai, breaker: {fail_max: 0},"),
        "providers.openai.breaker.fail_max: expected a value >= 1",
    ),
    (
        GOOD.replace("type: openai,", "type: openai, breaker: {fails: 3},"),
        "providers.openai.breaker.fails: unknown key",
    ),
    (GOOD.replace('api_key: "${ANTHROPIC_API_KEY}"', ""), "providers.claude.api_key: required"),
    (
        GOOD.replace(
            "- {provider: claude, model: claude-sonnet-4-5}\n    - {provider: openai, model: gpt-4.1}",
            "[]",
        ),
        "models.smart: expected a non-empty list",
    ),
    (
        GOOD.replace('api_keys: ["${PROXY_API_KEY}"]', "api_keys: [short]"),
        "auth.api_keys[0]: a client key must be at least 8",
    ),
    (
        GOOD.replace('api_keys: ["${PROXY_API_KEY}"]', "api_keys: 3"),
        "auth.api_keys: expected a list",
    ),
    (
        GOOD.replace('api_keys: ["${PROXY_API_KEY}"]', "api_keys: []"),
        "auth.api_keys: no client key is configured",
    ),
    (GOOD + "server: {max_body_bytes: big}\n", "server.max_body_bytes: expected an integer"),
    (
        "providers: {a: {type: mock}}\nmodels: {m: [{provider: a, model: x}]}\nauth: {disabled: yes-please}\n",
        "auth.disabled: expected true or false",
    ),
    (
        "providers: {a: {type: mock, options: {latency_ms: 1, bogus: 2}}}\nmodels: {m: [{provider: a, model: x}]}\nauth: {disabled: true}\n",
        None,
    ),
    ("providers: {a: {type: mock}\n", "<config>: invalid YAML at line 2, column 1"),
]


@pytest.mark.parametrize(("text", "expected"), [c for c in BAD_CASES if c[1]])
def test_errors_name_the_yaml_path(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, ENV)
    assert str(info.value).startswith(expected), str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_adapter_option_names_its_path() -> None:
    from proxy.state import build_adapters

    config = parse_config(BAD_CASES[-2][0], ENV)
    with pytest.raises(ConfigError, match=r"^providers\.a\.options\.bogus: unknown key"):
        build_adapters(config)


def test_unset_provider_key_disables_with_one_warning() -> None:
    config = parse_config(GOOD, {"PROXY_API_KEY": "client-key-1", "OPENAI_API_KEY": "sk-o"})
    assert not config.providers["claude"].enabled
    assert config.providers["claude"].missing_vars == ("ANTHROPIC_API_KEY",)
    assert config.warnings == (
        "provider 'claude' disabled: environment variable ANTHROPIC_API_KEY is not set",
    )
    assert [d.provider for d in config.enabled_deployments("smart")] == ["openai"]


def test_missing_client_key_refuses_start_and_names_variable() -> None:
    with pytest.raises(
        ConfigError, match=r"auth\.api_keys: no client key is configured \(set PROXY_API_KEY\)"
    ):
        parse_config(GOOD, {"OPENAI_API_KEY": "x"})


def test_auth_disabled_must_be_explicit() -> None:
    text = GOOD.replace('api_keys: ["${PROXY_API_KEY}"]', "disabled: true")
    assert parse_config(text, ENV).auth.disabled


def test_var_default_syntax() -> None:
    text = GOOD.replace("https://api.openai.com/v1", "${OPENAI_BASE:-https://example.test/v1}")
    assert parse_config(text, ENV).providers["openai"].base_url == "https://example.test/v1"


def test_unset_variable_outside_api_key_is_an_error() -> None:
    text = GOOD.replace("https://api.openai.com/v1", "${OPENAI_BASE}")
    with pytest.raises(
        ConfigError, match=r"^providers\.openai\.base_url: environment variable OPENAI_BASE"
    ):
        parse_config(text, ENV)


def test_shipped_example_config_is_valid_without_keys() -> None:
    text = (Path(__file__).parents[2] / "providers.yaml").read_text()
    config = parse_config(text, {"PROXY_API_KEY": "client-key-1"})
    assert config.enabled_deployments("demo")
    assert "sk-" not in text  # no key baked into a shipped file


def test_cli_exits_nonzero_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("provider: openai", "provider: opeani"))
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **ENV},
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("config error: models.smart[1].provider: unknown provider 'opeani'")
    )
