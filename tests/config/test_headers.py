"""Per-provider `headers:` and `query:`: validated at startup, ${VAR}s expanded, credentials
and framing headers refused with the YAML path."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, parse_config


def config_with(extra: str) -> str:
    return f"""
providers:
  p: {{type: openai, base_url: "https://openrouter.ai/api/v1", {extra}}}
models:
  m:
    - {{provider: p, model: x}}
auth:
  disabled: true
"""


def test_headers_and_query_expanded_and_lower_cased() -> None:
    text = config_with(
        'headers: {HTTP-Referer: "${SITE}", X-Title: App}, query: {"api-version": "2024-10-21"}'
    )
    provider = parse_config(text, {"SITE": "https://app.example"}).providers["p"]
    assert dict(provider.headers) == {"http-referer": "https://app.example", "x-title": "App"}
    assert dict(provider.query) == {"api-version": "2024-10-21"}
    assert provider.enabled


def test_unset_variable_disables_the_provider_like_a_missing_key() -> None:
    config = parse_config(config_with('headers: {OpenAI-Organization: "${ORG}"}'), {})
    assert config.providers["p"].missing_vars == ("ORG",)
    assert any("ORG" in w for w in config.warnings)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "headers: {Authorization: x}",
            "providers.p.headers.Authorization: credentials go in api_key",
        ),
        ("headers: {api-key: x}", "providers.p.headers.api-key: credentials"),
        ("headers: {x-goog-api-key: x}", "credentials go in api_key"),
        ("headers: {Connection: close}", "providers.p.headers.Connection: set by the proxy"),
        ("headers: {Transfer-Encoding: chunked}", "set by the proxy"),
        ("headers: {Host: evil.example}", "set by the proxy"),
        ('headers: {"bad name": x}', "not a valid header name"),
        ('headers: {X-A: "a\\r\\nX-Injected: 1"}', "one line"),
        ("headers: {X-A: [1]}", "expected a string value"),
        ("headers: [1]", "providers.p.headers: expected a mapping"),
        ("query: {key: x}", "providers.p.query.key: credentials go in api_key, never in the URL"),
    ],
)
def test_bad_headers_and_query(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config(config_with(extra), {})
