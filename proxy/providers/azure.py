"""Azure OpenAI: the OpenAI passthrough with Azure's URL schemes and key header.

Two URL schemes (https://learn.microsoft.com/azure/ai-foundry/openai/reference and
.../api-version-lifecycle; the `openai` SDK's AzureOpenAI client builds the same):
- `options.api_version` absent or `v1`: the v1 surface, `{base_url}/openai/v1/chat/completions`
  (and `/embeddings`), the deployment name in the body's `model`;
- any other `api_version` (e.g. `2024-10-21`): the deployment surface,
  `{base_url}/openai/deployments/{model}/chat/completions?api-version={api_version}`, where
  the deployment entry's `model` is the Azure deployment name.
The key travels in the `api-key` header; with `options.auth: entra` the `api_key` field holds
a Microsoft Entra ID access token (e.g. `${AZURE_OPENAI_AD_TOKEN}`), sent as a bearer token.
Content-filter results (`content_filter_results`, `prompt_filter_results`) pass through
untouched; Azure's 400 `content_filter` error is a client error like any 400 (no fallback).
"""

from __future__ import annotations

from urllib.parse import quote

from proxy.config import ConfigError, ProviderConfig, check_options, provider_option
from proxy.providers.extras import with_query
from proxy.providers.openai import OpenAIAdapter

AZURE_OPTIONS = {"api_version", "auth"}
V1 = "v1"


class AzureOpenAIAdapter(OpenAIAdapter):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        check_options(config, AZURE_OPTIONS)
        version: str = provider_option(config, "api_version", str, V1)
        auth_kind: str = provider_option(config, "auth", str, "api_key")
        if auth_kind not in ("api_key", "entra"):
            raise ConfigError(
                f"providers.{name}.options.auth: expected api_key or entra, got {auth_kind!r}"
            )
        if not version or any(c in version for c in "&?#/ "):
            raise ConfigError(f"providers.{name}.options.api_version: got {version!r}")
        if "api-version" in config.query:
            raise ConfigError(f"providers.{name}.query.api-version: set options.api_version")
        secret = config.api_key.value if config.api_key is not None else ""
        auth = (
            {"api-key": secret} if auth_kind == "api_key" else {"authorization": f"Bearer {secret}"}
        )
        # Both `https://x.openai.azure.com` and `.../openai` are common spellings.
        self._root = config.base_url.removesuffix("/openai") + "/openai"
        self._setup(name, config, f"{self._root}/v1", auth)
        self._version = None if version == V1 else version
        if self._version is not None:
            # The dated surface serves Responses elsewhere (/openai/responses?api-version=
            # with its own version lifecycle): translated through chat completions instead.
            self.responses = None
        self._config = config
        self._per_model: dict[tuple[str, str], str] = {}

    def chat_url(self, upstream_model: str) -> str:
        if self._version is None:
            return self._url
        return self._deployment_url(upstream_model, "chat/completions")

    def embeddings_url(self, upstream_model: str) -> str:
        if self._version is None:
            return self._embeddings_url
        return self._deployment_url(upstream_model, "embeddings")

    def _deployment_url(self, deployment: str, operation: str) -> str:
        url = self._per_model.get((deployment, operation))
        if url is None:
            if len(self._per_model) > 1024:  # one per configured deployment: small
                self._per_model.clear()
            path = f"{self._root}/deployments/{quote(deployment, safe='')}/{operation}"
            url = with_query(self._config, f"{path}?api-version={quote(self._version or '')}")
            self._per_model[(deployment, operation)] = url
        return url
