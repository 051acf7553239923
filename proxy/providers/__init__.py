"""The provider registry: YAML `type` -> adapter class. The only place a type name is matched."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from proxy.config import ProviderConfig
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter, AdapterFactory
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.mock import MockAdapter
from proxy.providers.mock_upstream import MockUpstreamTransport
from proxy.providers.openai import OpenAIAdapter

ADAPTERS: dict[str, AdapterFactory] = {
    "openai": OpenAIAdapter,
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


def in_process_transport(config: ProviderConfig) -> httpx.AsyncBaseTransport | None:
    make = IN_PROCESS.get(config.type)
    return make(config) if make is not None else None
