"""The built-in offline provider: an OpenAI-compatible upstream that lives in the process.

It answers deterministically from the last user message, stream and non-stream, with valid
usage, so the example config works with no keys and load tests measure the proxy alone.
The adapter is the OpenAI passthrough; only the transport differs (mock_upstream.py,
wired by the IN_PROCESS registry in providers/__init__.py).
Options: `latency_ms` (delay before the answer), `chunk_delay_ms` (gap between stream
chunks), `stream_chunks` (how many content chunks a stream has).
"""

from __future__ import annotations

from proxy.config import ProviderConfig, check_options, provider_option
from proxy.providers.openai import OpenAIAdapter

MOCK_BASE_URL = "http://mock.invalid/v1"
MOCK_OPTIONS = {"latency_ms", "chunk_delay_ms", "stream_chunks"}


class MockAdapter(OpenAIAdapter):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        check_options(config, MOCK_OPTIONS)
        for key in MOCK_OPTIONS:
            provider_option(config, key, int, 0)
        self._setup(name, config, MOCK_BASE_URL, {})
        self.responses = None  # the in-process upstream speaks Chat Completions only
