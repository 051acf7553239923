"""OpenAI-compatible upstreams: byte passthrough, for chat completions and embeddings.

The request goes out serialized from the parsed body (with `model` set to the upstream
name), never as the client's bytes: JSON with duplicate keys parses to the last value, which
is what the proxy routed and validated, while an upstream keeping the first value would see
another model or an unvalidated parameter. Re-serializing costs one orjson.dumps (measured
on this machine: 1.0 us for a 1.7 KB chat body, 10 us for 50 KB), against 21 us and 137 us
for finding duplicates with json.loads(object_pairs_hook=...) and a 400, and it also covers
duplicates nested anywhere in the body. Response bodies go back byte for byte; stream bytes
are never re-encoded, only re-framed at event boundaries (providers/pipes.py), so vendor fields (Perplexity's `citations`, `reasoning_content`
deltas, SSE comments) survive.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from proxy.config import ProviderConfig, check_options
from proxy.embeddings_request import EmbeddingsRequest
from proxy.errors import UpstreamError, upstream_status_error, upstream_transport_error
from proxy.providers.base import (
    CallContext,
    Reply,
    UpstreamRequest,
    Usage,
    encode_request,
    load_upstream_json,
)
from proxy.providers.extras import with_headers, with_query
from proxy.providers.openai_responses import ResponsesPassthrough
from proxy.providers.pipes import PassthroughPipe, usage_from_openai
from proxy.redaction import register_secrets, unrecognised_body
from proxy.request import ChatRequest


class OpenAIAdapter:
    def __init__(self, name: str, config: ProviderConfig) -> None:
        check_options(config, set())
        auth = {"authorization": f"Bearer {config.api_key.value}"} if config.api_key else {}
        self._setup(name, config, config.base_url, auth)

    def _setup(
        self, name: str, config: ProviderConfig, base_url: str, auth: dict[str, str]
    ) -> None:
        self.name = name
        self.embeddings: OpenAIAdapter | None = self
        self.messages = None  # /v1/messages is translated (proxy/surfaces/messages)
        self._url = with_query(config, f"{base_url}/chat/completions")
        self._embeddings_url = with_query(config, f"{base_url}/embeddings")
        headers = {"content-type": "application/json", "accept-encoding": "identity", **auth}
        self._headers: Mapping[str, str] = with_headers(config, headers)
        if config.api_key is not None:
            register_secrets((config.api_key.value,))  # redacted from every error and log line
        # /v1/responses is passthrough to OpenAI itself (and Azure's v1 surface); presets
        # point at vendors of whom many have no /responses: those are translated.
        self.responses: ResponsesPassthrough | None = None
        if config.preset is None:
            url = with_query(config, f"{base_url}/responses")
            self.responses = ResponsesPassthrough(name, url, self._headers)

    def chat_url(self, upstream_model: str) -> str:
        return self._url

    def embeddings_url(self, upstream_model: str) -> str:
        return self._embeddings_url

    def build_request(self, req: ChatRequest, ctx: CallContext) -> UpstreamRequest:
        # Never req.raw: see the module docstring (duplicate keys).
        if ctx.usage_for_proxy:
            body = encode_request(_asking_usage(req.body, ctx.upstream_model))
        elif ctx.upstream_model == req.model:
            body = encode_request(req.body)
        else:
            body = encode_request({**req.body, "model": ctx.upstream_model})
        return UpstreamRequest(self.chat_url(ctx.upstream_model), self._headers, body, req.stream)

    def build_embeddings(self, req: EmbeddingsRequest, ctx: CallContext) -> UpstreamRequest:
        if ctx.upstream_model == req.model:
            body = encode_request(req.body)
        else:
            body = encode_request({**req.body, "model": ctx.upstream_model})
        return UpstreamRequest(self.embeddings_url(ctx.upstream_model), self._headers, body, False)

    def parse_embeddings(self, payload: bytes, req: EmbeddingsRequest, ctx: CallContext) -> Reply:
        parsed = load_upstream_json(payload, self.name)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("data"), list):
            raise upstream_transport_error(
                self.name, "malformed_response", "the embeddings response has no 'data' list"
            )
        usage = parsed.get("usage")
        prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return Reply(payload, Usage(prompt=prompt) if isinstance(prompt, int) else None)

    def parse_response(self, payload: bytes, ctx: CallContext) -> Reply:
        parsed = load_upstream_json(payload, self.name)
        if not isinstance(parsed, dict) or "choices" not in parsed:
            raise upstream_transport_error(
                self.name, "malformed_response", "the response has no 'choices'"
            )
        return Reply(payload, usage_from_openai(parsed.get("usage")), parsed)

    def stream_pipe(self, ctx: CallContext) -> PassthroughPipe:
        return PassthroughPipe(self.name, ctx.limits, strip_usage=ctx.usage_for_proxy)

    def parse_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> UpstreamError:
        # Whole, uncut fields: upstream_status_error redacts, then cuts (errors.py).
        message, code, param = _openai_error_fields(payload)
        return upstream_status_error(self.name, status, message, headers, code=code, param=param)


def _asking_usage(body: dict[str, object], model: str) -> dict[str, object]:
    """The body with stream_options.include_usage set: the proxy needs the stream's usage
    (the pipe drops it again, so the client sees what it asked for)."""
    options = body.get("stream_options")
    extra = options if isinstance(options, dict) else {}
    return {**body, "model": model, "stream_options": {**extra, "include_usage": True}}


def _openai_error_fields(payload: bytes) -> tuple[str, str | None, str | None]:
    try:
        error = orjson.loads(payload).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        param = error.get("param")
        return (
            error["message"],
            str(code) if code is not None else None,
            param if isinstance(param, str) else None,
        )
    return unrecognised_body(payload), None, None
