"""`preset:` fills type and base_url; any field set beside it wins; keys as documented."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, parse_config
from proxy.config.presets import PRESETS


def config_with(provider: str) -> str:
    return f"""
providers:
  p: {provider}
models:
  m:
    - {{provider: p, model: x}}
auth:
  disabled: true
"""


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_fills_type_and_base_url(name: str) -> None:
    key = "" if PRESETS[name].local else ", api_key: k"
    provider = parse_config(config_with(f"{{preset: {name}{key}}}"), {}).providers["p"]
    assert provider.type == "openai"
    assert provider.base_url == PRESETS[name].base_url
    assert provider.preset == name


def test_fields_beside_a_preset_win() -> None:
    text = config_with("{preset: ollama, base_url: 'http://gpu-box:11434/v1', timeout: 5}")
    provider = parse_config(text, {}).providers["p"]
    assert (provider.base_url, provider.timeout) == ("http://gpu-box:11434/v1", 5)


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("{preset: groq}", "providers.p.api_key: required for groq"),
        ("{preset: grok, api_key: k}", "providers.p.preset: expected one of openrouter"),
        ("{preset: groq, type: anthropic, api_key: k}", "providers.p.type: a preset is"),
        ("{type: azure, base_url: 'https://x.openai.azure.com'}", "required for azure"),
    ],
)
def test_preset_errors_name_the_path(provider: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config(config_with(provider), {})
