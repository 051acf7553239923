"""The provider registry: YAML `type` -> adapter class. The only place a type name is matched."""

from __future__ import annotations

from proxy.config import ProviderConfig
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter, AdapterFactory
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.mock import MockAdapter
from proxy.providers.openai import OpenAIAdapter

ADAPTERS: dict[str, AdapterFactory] = {
    "openai": OpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "gemini": GeminiAdapter,
    "mock": MockAdapter,
}


def build_adapter(config: ProviderConfig) -> Adapter:
    return ADAPTERS[config.type](config.name, config)
