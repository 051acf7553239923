"""OpenAI-compatible upstreams: byte passthrough.

Only `model` is rewritten (and only when the public name differs from the upstream one);
response bodies go back byte for byte; stream bytes are never re-encoded, only re-framed at
event boundaries (providers/pipes.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from proxy.config import ProviderConfig, check_options
from proxy.errors import UpstreamError, upstream_status_error, upstream_transport_error
from proxy.providers.base import CallContext, Reply, UpstreamRequest, load_upstream_json
from proxy.providers.pipes import PassthroughPipe, usage_from_openai
from proxy.request import ChatRequest

_ERROR_EXCERPT = 300


class OpenAIAdapter:
    passthrough = True

    def __init__(self, name: str, config: ProviderConfig) -> None:
        check_options(config, set())
        self.name = name
        self._url = f"{config.base_url}/chat/completions"
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        if config.api_key is not None:
            headers["authorization"] = f"Bearer {config.api_key.value}"
        self._headers: Mapping[str, str] = headers
        self._secrets = tuple(s for s in (config.api_key.value if config.api_key else "",) if s)

    def build_request(self, req: ChatRequest, ctx: CallContext) -> UpstreamRequest:
        if ctx.upstream_model == req.model:
            body = req.raw
        else:
            body = orjson.dumps({**req.body, "model": ctx.upstream_model})
        return UpstreamRequest(self._url, self._headers, body, req.stream)

    def parse_response(self, payload: bytes, ctx: CallContext) -> Reply:
        parsed = load_upstream_json(payload, self.name)
        if not isinstance(parsed, dict) or "choices" not in parsed:
            raise upstream_transport_error(
                self.name, "malformed_response", "the response has no 'choices'"
            )
        return Reply(payload, usage_from_openai(parsed.get("usage")))

    def stream_pipe(self, ctx: CallContext) -> PassthroughPipe:
        return PassthroughPipe(self.name, ctx.limits)

    def parse_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> UpstreamError:
        message, code, param = _openai_error_fields(payload)
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return upstream_status_error(self.name, status, message, headers, code=code, param=param)


def _openai_error_fields(payload: bytes) -> tuple[str, str | None, str | None]:
    try:
        error = orjson.loads(payload).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        param = error.get("param")
        return (
            error["message"][:2000],
            str(code) if code is not None else None,
            param if isinstance(param, str) else None,
        )
    excerpt = payload[:_ERROR_EXCERPT].decode("utf-8", "replace").strip()
    return (f"unrecognised error body: {excerpt!r}" if excerpt else "empty error body"), None, None
