"""Which adapters answer /v1/responses by passthrough (a `responses` codec) and where to:
openai at {base_url}/responses, azure's v1 surface; presets, the mock, azure's dated
surface, anthropic and gemini are translated through Chat Completions (codec None)."""

from __future__ import annotations

import pytest

from proxy.config import parse_config
from proxy.providers import build_adapter
from proxy.providers.base import CallContext

CTX = CallContext("m", "up-model", "resp_1", 0, True)
RAW = b'{"model":"m","input":"hi"}'


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        (
            'type: openai, base_url: "https://api.example/v1", api_key: k',
            "https://api.example/v1/responses",
        ),
        (
            'type: openai, base_url: "https://api.example/v1", api_key: k, query: {tenant: a}',
            "https://api.example/v1/responses?tenant=a",
        ),
        (
            'type: azure, base_url: "https://r.openai.azure.com", api_key: k',
            "https://r.openai.azure.com/openai/v1/responses",
        ),
        (
            'type: azure, base_url: "https://r.openai.azure.com", api_key: k, options: {api_version: "2024-10-21"}',
            None,
        ),
        ("preset: groq, api_key: k", None),
        ("type: mock", None),
        ('type: anthropic, base_url: "https://a.example", api_key: k', None),
        ('type: gemini, base_url: "https://g.example", api_key: k', None),
    ],
)
def test_passthrough_url_or_translation(fields: str, url: str | None) -> None:
    text = f"providers:\n  p: {{{fields}}}\nmodels:\n  m: [{{provider: p, model: x}}]\nauth: {{disabled: true}}\n"
    adapter = build_adapter(parse_config(text, {}).providers["p"])
    codec = adapter.responses
    if url is None:
        assert codec is None
        return
    assert codec is not None
    sent = codec.build({"model": "m", "input": "hi"}, RAW, "up-model")
    assert sent.url == url
    assert sent.body == b'{"model":"up-model","input":"hi"}'
    assert "k" in " ".join(sent.headers.values())  # the provider's key, in its header
