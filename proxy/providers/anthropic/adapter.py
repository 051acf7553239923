"""The Anthropic adapter: startup-time URL and headers, and the glue from bytes to translation."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from proxy.config import ConfigError, ProviderConfig, check_options, provider_option
from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.anthropic.errors import anthropic_error
from proxy.providers.anthropic.passthrough import MessagesPassthrough
from proxy.providers.anthropic.request import (
    DEFAULT_MAX_TOKENS,
    RequestOptions,
    to_anthropic_request,
)
from proxy.providers.anthropic.response import from_anthropic_response, usage_record
from proxy.providers.anthropic.stream import AnthropicStreamTranslator
from proxy.providers.base import (
    CallContext,
    Reply,
    StreamPipe,
    UpstreamRequest,
    encode_request,
    load_upstream_json,
)
from proxy.providers.extras import with_headers, with_query
from proxy.providers.pipes import TranslatingPipe
from proxy.redaction import register_secrets
from proxy.request import ChatRequest

# https://docs.anthropic.com/en/api/versioning: the one stable Messages API version.
DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
OPTIONS = {"default_max_tokens", "anthropic_version"}


class AnthropicAdapter:
    embeddings = None  # Anthropic has no embeddings API (it points users to Voyage AI)

    def __init__(self, name: str, config: ProviderConfig) -> None:
        check_options(config, OPTIONS)
        default_max_tokens = provider_option(config, "default_max_tokens", int, DEFAULT_MAX_TOKENS)
        if default_max_tokens < 1:
            raise ConfigError(
                f"providers.{name}.options.default_max_tokens: expected a value >= 1, "
                f"got {default_max_tokens}"
            )
        version = provider_option(config, "anthropic_version", str, DEFAULT_ANTHROPIC_VERSION)
        self.name = name
        # Both `https://api.anthropic.com` and `.../v1` are common spellings of the base URL.
        base = config.base_url.removesuffix("/v1")
        self._url = with_query(config, f"{base}/v1/messages")
        headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",
            "anthropic-version": version,
        }
        if config.api_key is not None:
            headers["x-api-key"] = config.api_key.value
            register_secrets((config.api_key.value,))  # redacted from every error and log line
        self._headers: Mapping[str, str] = with_headers(config, headers)
        self._options = RequestOptions(name, default_max_tokens, config.drop_unsupported)
        # /v1/messages to this provider is passthrough (same format in and out).
        count_url = with_query(config, f"{base}/v1/messages/count_tokens")
        self.messages: MessagesPassthrough | None = MessagesPassthrough(
            name, (self._url, count_url), self._headers
        )
        self.responses = None  # /v1/responses is translated (proxy/surfaces/responses)

    def build_request(self, req: ChatRequest, ctx: CallContext) -> UpstreamRequest:
        body = to_anthropic_request(req.body, ctx, self._options)
        return UpstreamRequest(self._url, self._headers, encode_request(body), req.stream)

    def parse_response(self, payload: bytes, ctx: CallContext) -> Reply:
        message = load_upstream_json(payload, self.name)
        if not isinstance(message, dict) or message.get("type") != "message":
            raise upstream_transport_error(
                self.name, "malformed_response", "the response is not a Messages API message"
            )
        response = from_anthropic_response(message, ctx, self.name)
        return Reply(orjson.dumps(response), usage_record(response["usage"]), response)

    def stream_pipe(self, ctx: CallContext) -> StreamPipe:
        return TranslatingPipe(AnthropicStreamTranslator(ctx, self.name), self.name, ctx.limits)

    def parse_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> UpstreamError:
        return anthropic_error(self.name, status, headers, payload)
