"""OpenAI embeddings <-> Gemini's `batchEmbedContents`.

    POST {base}/models/{model}:batchEmbedContents
    {"requests": [{"model": "models/{model}", "content": {"parts": [{"text": ...}]},
                   "outputDimensionality": N}, ...]}
    -> {"embeddings": [{"values": [...]}, ...], "usageMetadata": {"promptTokenCount": N}}

Field names from the google-genai SDK's request builder (models.py,
`_EmbedContentParametersPrivate_to_mldev`: `requests[].content`,
`requests[].outputDimensionality`) and types (`EmbedContentResponse.embeddings[].values`,
`usage_metadata`). Gemini takes text only: token arrays are a 400 naming `input`.
`encoding_format: base64` is done here, as OpenAI does it: little-endian float32, base64.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from proxy.embeddings_request import EmbeddingsRequest
from proxy.errors import invalid_request, upstream_transport_error
from proxy.providers.base import CallContext, Reply, UpstreamRequest, Usage, load_upstream_json


class GeminiEmbeddings:
    def __init__(self, name: str, url_template: str, headers: Mapping[str, str]) -> None:
        self.name = name
        self._url_template = url_template  # "{base}/models/{}:batchEmbedContents[?query]"
        self._headers = headers
        self._urls: dict[str, str] = {}

    def build_embeddings(self, req: EmbeddingsRequest, ctx: CallContext) -> UpstreamRequest:
        if req.texts is None:
            raise invalid_request(
                f"Invalid 'input': provider '{self.name}' (Gemini) takes text only, "
                "not token arrays; send strings.",
                param="input",
                code="unsupported_parameter",
            )
        body = to_gemini_embeddings(req, ctx.upstream_model)
        return UpstreamRequest(self._url(ctx.upstream_model), self._headers, body, False)

    def parse_embeddings(self, payload: bytes, req: EmbeddingsRequest, ctx: CallContext) -> Reply:
        parsed = load_upstream_json(payload, self.name)
        try:
            body, usage = from_gemini_embeddings(parsed, req, ctx.public_model)
        except ValueError as exc:
            raise upstream_transport_error(self.name, "malformed_response", str(exc)) from exc
        return Reply(body, usage)

    def _url(self, model: str) -> str:
        url = self._urls.get(model)
        if url is None:
            if len(self._urls) > 1024:
                self._urls.clear()
            url = self._urls[model] = self._url_template.format(model_path(model))
        return url


def model_path(model: str) -> str:
    return quote(model.removeprefix("models/"), safe="")


def to_gemini_embeddings(req: EmbeddingsRequest, model: str) -> bytes:
    name = model if model.startswith("models/") else f"models/{model}"
    extra: dict[str, Any] = {}
    if req.dimensions is not None:
        extra["outputDimensionality"] = req.dimensions
    requests = [
        {"model": name, "content": {"parts": [{"text": text}]}, **extra} for text in req.texts or ()
    ]
    return orjson.dumps({"requests": requests})


def from_gemini_embeddings(
    parsed: Any, req: EmbeddingsRequest, public_model: str
) -> tuple[bytes, Usage]:
    """Gemini's answer -> (OpenAI's embeddings list, serialized once; usage)."""
    embeddings = parsed.get("embeddings") if isinstance(parsed, dict) else None
    count = len(req.texts or ())
    if not isinstance(embeddings, list) or len(embeddings) != count:
        raise ValueError(f"expected {count} embeddings in the response")
    data = [
        {"object": "embedding", "index": i, "embedding": _encoded(item, req)}
        for i, item in enumerate(embeddings)
    ]
    meta = parsed.get("usageMetadata")
    tokens = meta.get("promptTokenCount") if isinstance(meta, dict) else None
    prompt = tokens if isinstance(tokens, int) else 0
    body = {
        "object": "list",
        "data": data,
        "model": public_model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }
    return orjson.dumps(body), Usage(prompt=prompt)


def _encoded(item: Any, req: EmbeddingsRequest) -> list[float] | str:
    values = item.get("values") if isinstance(item, dict) else None
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise ValueError("an embedding has no list of numbers in 'values'")
    if req.encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
    return values
