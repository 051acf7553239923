"""GeminiAdapter: the Gemini API's native REST endpoints, not its OpenAI-compatible one.

    POST {base_url}/v1beta/models/{model}:generateContent
    POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse

The key travels in the `x-goog-api-key` header, never in the URL (a `?key=` URL ends up in
access logs and error messages). A base_url that already ends in an API version (/v1beta,
/v1, /v1alpha) is used as it is.

Provider options (`providers.<name>.options`):
- `thinking`: "auto" (default), "budget" or "level": how reasoning_effort is sent
  (request.py). auto uses thinkingLevel for Gemini 3 and later model names, thinkingBudget
  for the rest (Gemini 2.5 rejects thinkingLevel).
- `include_thoughts`: true to ask for thought summaries (`reasoning_content`) on every
  request, not only those with a reasoning_effort.
- `max_schema_nodes` (default 100000), `max_schema_depth` (default 64): bounds of the
  tool and response_format schemas of one request once their $refs are inlined
  (schema.py); past either the request is a 400 naming the tool.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import orjson

from proxy.config import ConfigError, ProviderConfig, check_options, provider_option
from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.base import (
    CallContext,
    Reply,
    UpstreamRequest,
    encode_request,
    load_upstream_json,
)
from proxy.providers.extras import with_headers, with_query
from proxy.providers.gemini.embeddings import GeminiEmbeddings, model_path
from proxy.providers.gemini.errors import error_from_object, gemini_error
from proxy.providers.gemini.request import RequestOptions, ThinkingStyle, to_gemini_request
from proxy.providers.gemini.response import MalformedResponse, from_gemini_response, usage_of
from proxy.providers.gemini.schema import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_NODES,
    MAX_DEPTH_CEILING,
    SchemaLimits,
)
from proxy.providers.gemini.stream import GeminiStreamTranslator
from proxy.providers.pipes import TranslatingPipe
from proxy.redaction import register_secrets
from proxy.request import ChatRequest

GEMINI_OPTIONS = {"thinking", "include_thoughts", "max_schema_nodes", "max_schema_depth"}
_VERSIONED = re.compile(r"/v1(alpha|beta)?[0-9]*$")
_MAJOR_VERSION = re.compile(r"gemini-(\d+)")


class GeminiAdapter:
    def __init__(self, name: str, config: ProviderConfig) -> None:
        check_options(config, GEMINI_OPTIONS)
        self.name = name
        thinking = provider_option(config, "thinking", str, "auto")
        if thinking not in ("auto", "budget", "level"):
            raise ConfigError(
                f"providers.{name}.options.thinking: expected auto, budget or level, got {thinking!r}"
            )
        self._thinking: Literal["auto", "budget", "level"] = thinking
        self._include_thoughts: bool = provider_option(config, "include_thoughts", bool, False)
        self._drop_unsupported = config.drop_unsupported
        self._schema_limits = _schema_limits(config)
        base = config.base_url.rstrip("/")
        if not _VERSIONED.search(base):
            base += "/v1beta"
        self._generate_url = with_query(config, base + "/models/{}:generateContent")
        self._stream_url = with_query(config, base + "/models/{}:streamGenerateContent?alt=sse")
        key = config.api_key.value if config.api_key is not None else ""
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        if key:
            headers["x-goog-api-key"] = key
            register_secrets((key,))  # redacted from every error and log line
        self._headers: Mapping[str, str] = with_headers(config, headers)
        embed_url = with_query(config, base + "/models/{}:batchEmbedContents")
        self.embeddings = GeminiEmbeddings(name, embed_url, self._headers)
        self.messages = None  # /v1/messages is translated (proxy/surfaces/messages)
        self.responses = None  # /v1/responses is translated (proxy/surfaces/responses)
        # Per upstream model, computed once: the two URLs and the request options.
        self._per_model: dict[str, tuple[str, str, RequestOptions]] = {}

    def build_request(self, req: ChatRequest, ctx: CallContext) -> UpstreamRequest:
        generate_url, stream_url, options = self._model(ctx.upstream_model)
        body = to_gemini_request(req.body, options)
        url = stream_url if req.stream else generate_url
        return UpstreamRequest(url, self._headers, encode_request(body), req.stream)

    def parse_response(self, payload: bytes, ctx: CallContext) -> Reply:
        parsed = load_upstream_json(payload, self.name)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            raise error_from_object(self.name, None, parsed["error"])
        try:
            response = from_gemini_response(parsed, ctx)
        except MalformedResponse as exc:
            raise upstream_transport_error(self.name, "malformed_response", str(exc)) from exc
        return Reply(orjson.dumps(response), usage_of(parsed.get("usageMetadata")), response)

    def stream_pipe(self, ctx: CallContext) -> TranslatingPipe:
        return TranslatingPipe(GeminiStreamTranslator(ctx, self.name), self.name, ctx.limits)

    def parse_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> UpstreamError:
        return gemini_error(self.name, status, headers, payload)

    def _model(self, model: str) -> tuple[str, str, RequestOptions]:
        cached = self._per_model.get(model)
        if cached is None:
            path = model_path(model)
            options = RequestOptions(
                provider=self.name,
                drop_unsupported=self._drop_unsupported,
                thinking_style=self._thinking_style(model),
                include_thoughts=self._include_thoughts,
                schema_limits=self._schema_limits,
            )
            cached = (self._generate_url.format(path), self._stream_url.format(path), options)
            self._per_model[model] = cached
        return cached

    def _thinking_style(self, model: str) -> ThinkingStyle:
        if self._thinking != "auto":
            return self._thinking
        match = _MAJOR_VERSION.search(model)
        return "level" if match is not None and int(match.group(1)) >= 3 else "budget"


def _schema_limits(config: ProviderConfig) -> SchemaLimits:
    nodes = provider_option(config, "max_schema_nodes", int, DEFAULT_MAX_NODES)
    depth = provider_option(config, "max_schema_depth", int, DEFAULT_MAX_DEPTH)
    path = f"providers.{config.name}.options"
    if nodes < 1:
        raise ConfigError(f"{path}.max_schema_nodes: expected a value >= 1, got {nodes}")
    # Each level is a few Python frames and two JSON levels (orjson writes at most 254).
    if not 1 <= depth <= MAX_DEPTH_CEILING:
        raise ConfigError(
            f"{path}.max_schema_depth: expected a value from 1 to {MAX_DEPTH_CEILING}, got {depth}"
        )
    return SchemaLimits(max_nodes=nodes, max_depth=depth)
