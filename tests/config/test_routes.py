"""`models:` entries: a list (chat) or `{kind: embeddings, deployments: [...]}`."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, parse_config
from proxy.state import build_adapters

PROVIDERS = """
providers:
  oai: {type: openai, base_url: "https://api.openai.com/v1"}
  gem: {type: gemini, base_url: "https://generativelanguage.googleapis.com", api_key: g}
  claude: {type: anthropic, base_url: "https://api.anthropic.com", api_key: a}
auth:
  disabled: true
"""


def test_kinds() -> None:
    config = parse_config(
        PROVIDERS
        + """
models:
  chat:
    - {provider: claude, model: c}
  embed:
    kind: embeddings
    deployments:
      - {provider: oai, model: text-embedding-3-small}
      - {provider: gem, model: gemini-embedding-001}
""",
        {},
    )
    assert config.kind_of("chat") == "chat"
    assert config.kind_of("embed") == "embeddings"
    assert [d.provider for d in config.models["embed"]] == ["oai", "gem"]
    build_adapters(config)  # openai and gemini have embeddings: accepted


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            "{e: {kind: images, deployments: [{provider: oai, model: x}]}}",
            "models.e.kind: expected one of chat, embeddings",
        ),
        ("{e: {kind: embeddings}}", "models.e.deployments: expected a non-empty list"),
        ("{e: {kind: embeddings, deployments: [], extra: 1}}", "models.e.extra: unknown key"),
        (
            "{e: {kind: embeddings, deployments: [{provider: nope, model: x}]}}",
            "models.e.deployments[0].provider: unknown provider",
        ),
    ],
)
def test_bad_model_entries(models: str, message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace(".", r"\.").replace("[", r"\[").replace("]", r"\]")
    ):
        parse_config(PROVIDERS + f"models: {models}\n", {})


def test_anthropic_in_an_embeddings_model_is_a_config_error() -> None:
    config = parse_config(
        PROVIDERS
        + """
models:
  embed:
    kind: embeddings
    deployments:
      - {provider: oai, model: text-embedding-3-small}
      - {provider: claude, model: claude-sonnet-4-5}
""",
        {},
    )
    with pytest.raises(
        ConfigError,
        match=r"models\.embed\.deployments\[1\]\.provider: provider 'claude' \(type anthropic\) has no embeddings",
    ):
        build_adapters(config)
