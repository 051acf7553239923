"""AzureOpenAIAdapter: URLs of both schemes, auth headers, options validation."""

from __future__ import annotations

import orjson
import pytest

from proxy.config import ConfigError, parse_config
from proxy.embeddings_request import parse_embeddings_request
from proxy.providers import build_adapter
from proxy.providers.azure import AzureOpenAIAdapter
from proxy.providers.base import CallContext
from proxy.request import parse_chat_request

ROOT = "https://res.openai.azure.com"


def adapter(fields: str) -> AzureOpenAIAdapter:
    text = f"""
providers:
  az: {{type: azure, base_url: "{ROOT}", api_key: secret-key, {fields}}}
models:
  m: [{{provider: az, model: d}}]
auth: {{disabled: true}}
"""
    built = build_adapter(parse_config(text, {}).providers["az"])
    assert isinstance(built, AzureOpenAIAdapter)
    return built


def ctx(model: str) -> CallContext:
    return CallContext("m", model, "chatcmpl-1", 0, False)


CHAT = parse_chat_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}]}')
EMBED = parse_embeddings_request(b'{"model":"m","input":"hi"}')


@pytest.mark.parametrize(
    ("fields", "chat_url", "embeddings_url"),
    [
        ("options: {}", f"{ROOT}/openai/v1/chat/completions", f"{ROOT}/openai/v1/embeddings"),
        ("options: {api_version: v1}", f"{ROOT}/openai/v1/chat/completions", None),
        (
            "options: {api_version: '2024-10-21'}",
            f"{ROOT}/openai/deployments/my%2Fdep/chat/completions?api-version=2024-10-21",
            f"{ROOT}/openai/deployments/my%2Fdep/embeddings?api-version=2024-10-21",
        ),
        (
            "options: {api_version: '2024-10-21'}, query: {x: 'y z'}",
            f"{ROOT}/openai/deployments/my%2Fdep/chat/completions?api-version=2024-10-21&x=y+z",
            None,
        ),
    ],
)
def test_urls(fields: str, chat_url: str, embeddings_url: str | None) -> None:
    az = adapter(fields)
    assert az.build_request(CHAT, ctx("my/dep")).url == chat_url
    if embeddings_url is not None:
        assert az.build_embeddings(EMBED, ctx("my/dep")).url == embeddings_url


def test_key_header_and_body_model() -> None:
    upstream = adapter("options: {}").build_request(CHAT, ctx("gpt-4o"))
    assert upstream.headers["api-key"] == "secret-key"
    assert "authorization" not in upstream.headers
    assert orjson.loads(upstream.body)["model"] == "gpt-4o"


def test_entra_token_header() -> None:
    upstream = adapter("options: {auth: entra}").build_request(CHAT, ctx("d"))
    assert upstream.headers["authorization"] == "Bearer secret-key"
    assert "api-key" not in upstream.headers


def test_base_url_with_openai_suffix() -> None:
    text = f"""
providers:
  az: {{type: azure, base_url: "{ROOT}/openai/", api_key: k}}
models:
  m: [{{provider: az, model: d}}]
auth: {{disabled: true}}
"""
    az = build_adapter(parse_config(text, {}).providers["az"])
    assert az.build_request(CHAT, ctx("d")).url == f"{ROOT}/openai/v1/chat/completions"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("options: {auth: oauth}", "providers.az.options.auth: expected api_key or entra"),
        ("options: {api_version: 2024}", "providers.az.options.api_version: expected str"),
        ("options: {api_version: 'a&b'}", "providers.az.options.api_version"),
        ("options: {deployment: x}", "providers.az.options.deployment: unknown key"),
        ("query: {api-version: x}", "providers.az.query.api-version: set options.api_version"),
    ],
)
def test_bad_options(fields: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        adapter(fields)


def test_key_redacted_from_error_messages() -> None:
    error = adapter("options: {}").parse_error(
        401, {}, b'{"error": {"message": "bad key secret-key", "code": "401"}}'
    )
    assert "secret-key" not in error.message
