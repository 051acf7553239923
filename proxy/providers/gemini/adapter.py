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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal
from urllib.parse import quote

import orjson

from proxy.config import ConfigError, ProviderConfig, check_options, provider_option
from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.base import CallContext, Reply, UpstreamRequest, load_upstream_json
from proxy.providers.gemini.errors import error_from_object, gemini_error
from proxy.providers.gemini.request import RequestOptions, ThinkingStyle, to_gemini_request
from proxy.providers.gemini.response import MalformedResponse, from_gemini_response, usage_of
from proxy.providers.gemini.stream import GeminiStreamTranslator
from proxy.providers.pipes import TranslatingPipe
from proxy.request import ChatRequest

GEMINI_OPTIONS = {"thinking", "include_thoughts"}
_VERSIONED = re.compile(r"/v1(alpha|beta)?[0-9]*$")
_MAJOR_VERSION = re.compile(r"gemini-(\d+)")


class GeminiAdapter:
    passthrough = False

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
        base = config.base_url.rstrip("/")
        if not _VERSIONED.search(base):
            base += "/v1beta"
        self._generate_url = base + "/models/{}:generateContent"
        self._stream_url = base + "/models/{}:streamGenerateContent?alt=sse"
        key = config.api_key.value if config.api_key is not None else ""
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        if key:
            headers["x-goog-api-key"] = key
        self._headers: Mapping[str, str] = MappingProxyType(headers)
        self._secrets = (key,) if key else ()
        # Per upstream model, computed once: the two URLs and the request options.
        self._per_model: dict[str, tuple[str, str, RequestOptions]] = {}

    def build_request(self, req: ChatRequest, ctx: CallContext) -> UpstreamRequest:
        generate_url, stream_url, options = self._model(ctx.upstream_model)
        body = to_gemini_request(req.body, options)
        url = stream_url if req.stream else generate_url
        return UpstreamRequest(url, self._headers, orjson.dumps(body), req.stream)

    def parse_response(self, payload: bytes, ctx: CallContext) -> Reply:
        parsed = load_upstream_json(payload, self.name)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            raise error_from_object(self.name, None, parsed["error"], secrets=self._secrets)
        try:
            response = from_gemini_response(parsed, ctx)
        except MalformedResponse as exc:
            raise upstream_transport_error(self.name, "malformed_response", str(exc)) from exc
        return Reply(orjson.dumps(response), usage_of(parsed.get("usageMetadata")))

    def stream_translator(self, ctx: CallContext) -> GeminiStreamTranslator:
        return GeminiStreamTranslator(ctx, self.name)

    def stream_pipe(self, ctx: CallContext) -> TranslatingPipe:
        return TranslatingPipe(GeminiStreamTranslator(ctx, self.name), self.name, ctx.limits)

    def parse_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> UpstreamError:
        return gemini_error(self.name, status, headers, payload, self._secrets)

    def _model(self, model: str) -> tuple[str, str, RequestOptions]:
        cached = self._per_model.get(model)
        if cached is None:
            path = quote(model.removeprefix("models/"), safe="")
            options = RequestOptions(
                provider=self.name,
                drop_unsupported=self._drop_unsupported,
                thinking_style=self._thinking_style(model),
                include_thoughts=self._include_thoughts,
            )
            cached = (self._generate_url.format(path), self._stream_url.format(path), options)
            self._per_model[model] = cached
        return cached

    def _thinking_style(self, model: str) -> ThinkingStyle:
        if self._thinking != "auto":
            return self._thinking
        match = _MAJOR_VERSION.search(model)
        return "level" if match is not None and int(match.group(1)) >= 3 else "budget"
