"""The provider registry: YAML `type` -> adapter class. The only place a type name is matched."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from proxy.config import Config, ConfigError, ProviderConfig
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.azure import AzureOpenAIAdapter
from proxy.providers.base import Adapter, AdapterFactory
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.mock import MockAdapter
from proxy.providers.mock_upstream import MockUpstreamTransport
from proxy.providers.openai import OpenAIAdapter

ADAPTERS: dict[str, AdapterFactory] = {
    "openai": OpenAIAdapter,
    "azure": AzureOpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "gemini": GeminiAdapter,
    "mock": MockAdapter,
}


# Provider types whose upstream lives in the process: their own transport replaces the pool.
IN_PROCESS: dict[str, Callable[[ProviderConfig], httpx.AsyncBaseTransport]] = {
    "mock": MockUpstreamTransport,
}


def build_adapter(config: ProviderConfig) -> Adapter:
    return ADAPTERS[config.type](config.name, config)


def check_embedding_models(config: Config, adapters: Mapping[str, Adapter]) -> None:
    """A `kind: embeddings` model may only use providers that have an embeddings endpoint."""
    for model in sorted(config.embedding_models):
        for i, deployment in enumerate(config.models[model]):
            adapter = adapters.get(deployment.provider)  # None: disabled, not built
            if adapter is not None and adapter.embeddings is None:
                kind = config.providers[deployment.provider].type
                raise ConfigError(
                    f"models.{model}.deployments[{i}].provider: provider "
                    f"'{deployment.provider}' (type {kind}) has no embeddings endpoint"
                )


def in_process_transport(config: ProviderConfig) -> httpx.AsyncBaseTransport | None:
    make = IN_PROCESS.get(config.type)
    return make(config) if make is not None else None
