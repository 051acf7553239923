"""The `state:` section."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, StateConfig, parse_config

BASE = """
providers:
  openai: {type: openai, base_url: "https://api.openai.com/v1", api_key: "sk-o"}
models:
  smart: [{provider: openai, model: gpt-4.1}]
auth: {api_keys: [client-key-1]}
"""


def test_default_is_memory() -> None:
    assert parse_config(BASE, {}).state == StateConfig()


def test_the_issue_example() -> None:
    state = parse_config(
        BASE
        + """
state:
  backend: redis
  redis_url: ${REDIS_URL}
  key_prefix: "llm-proxy:"
  timeout_ms: 50
  on_unavailable: closed
  replicas_hint: 3
""",
        {"REDIS_URL": "redis://:hunter2@redis:6379/0"},
    ).state
    assert state.redis_url is not None and state.redis_url.value == "redis://:hunter2@redis:6379/0"
    assert (state.backend, state.key_prefix, state.timeout_ms) == ("redis", "llm-proxy:", 50)
    assert (state.on_unavailable, state.replicas_hint) == ("closed", 3)
    assert "hunter2" not in repr(state)


def test_an_unset_redis_url_is_fine_with_the_memory_backend() -> None:
    state = parse_config(BASE + "state: {redis_url: '${REDIS_URL}'}\n", {}).state
    assert state == StateConfig()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("state: {backend: etcd}", "state.backend: expected memory or redis"),
        ("state: {backend: redis}", "state.redis_url: required"),
        (
            "state: {backend: redis, redis_url: '${REDIS_URL}'}",
            "state.redis_url: environment variable REDIS_URL",
        ),
        (
            "state: {backend: redis, redis_url: 'http://:pw@x'}",
            "state.redis_url: expected a redis://",
        ),
        ("state: {timeout_ms: 0}", "state.timeout_ms: expected a value >= 1"),
        ("state: {on_unavailable: maybe}", "state.on_unavailable: expected open or closed"),
        ("state: {replicas_hint: 0}", "state.replicas_hint: expected a value >= 1"),
        ("state: {key_prefix: 3}", "state.key_prefix: expected a string"),
        ("state: {ttl: 3}", "state.ttl: unknown key"),
        ("state: [redis]", "state: expected a mapping"),
    ],
)
def test_errors_name_the_yaml_path(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + section + "\n", {})
    assert message in str(info.value)
    assert ":pw@" not in str(info.value)
