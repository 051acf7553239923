"""OpenAI embeddings <-> Gemini batchEmbedContents, as pure translation."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from proxy.config import parse_config
from proxy.embeddings_request import EmbeddingsRequest, parse_embeddings_request
from proxy.errors import ProxyError, UpstreamError
from proxy.providers import build_adapter
from proxy.providers.base import CallContext, EmbeddingsCodec

CTX = CallContext("embed", "gemini-embedding-001", "embd-1", 0, False)


def codec(query: str = "") -> EmbeddingsCodec:
    text = f"""
providers:
  gem: {{type: gemini, base_url: "https://g.example", api_key: gk{query}}}
models:
  m: [{{provider: gem, model: x}}]
auth: {{disabled: true}}
"""
    embeddings = build_adapter(parse_config(text, {}).providers["gem"]).embeddings
    assert embeddings is not None
    return embeddings


def request(**fields: object) -> EmbeddingsRequest:
    return parse_embeddings_request(orjson.dumps({"model": "embed", **fields}))


def test_request_body_url_and_headers() -> None:
    upstream = codec(", query: {trace: 'on'}").build_embeddings(
        request(input=["a", "b"], dimensions=8), CTX
    )
    assert upstream.url == (
        "https://g.example/v1beta/models/gemini-embedding-001:batchEmbedContents?trace=on"
    )
    assert upstream.headers["x-goog-api-key"] == "gk"
    assert orjson.loads(upstream.body) == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": t}]},
                "outputDimensionality": 8,
            }
            for t in ("a", "b")
        ]
    }


def test_token_arrays_are_a_400_naming_input() -> None:
    with pytest.raises(ProxyError) as caught:
        codec().build_embeddings(request(input=[1, 2]), CTX)
    assert (caught.value.status, caught.value.param) == (400, "input")


def test_response_float_and_base64() -> None:
    payload = orjson.dumps(
        {
            "embeddings": [{"values": [0.5, -1.0]}, {"values": [2.0, 0.25]}],
            "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4},
        }
    )
    reply = codec().parse_embeddings(payload, request(input=["a", "b"]), CTX)
    assert orjson.loads(reply.body) == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
            {"object": "embedding", "index": 1, "embedding": [2.0, 0.25]},
        ],
        "model": "embed",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    assert reply.usage is not None and reply.usage.prompt == 4
    encoded = codec().parse_embeddings(
        payload, request(input=["a", "b"], encoding_format="base64"), CTX
    )
    first = orjson.loads(encoded.body)["data"][0]["embedding"]
    # OpenAI's base64: the little-endian float32 bytes of the vector.
    assert first == base64.b64encode(struct.pack("<2f", 0.5, -1.0)).decode()


def test_missing_usage_reports_zero() -> None:
    payload = orjson.dumps({"embeddings": [{"values": [1.0]}]})
    reply = codec().parse_embeddings(payload, request(input="a"), CTX)
    assert orjson.loads(reply.body)["usage"] == {"prompt_tokens": 0, "total_tokens": 0}


@pytest.mark.parametrize(
    "payload",
    [
        {"embeddings": []},
        {"embeddings": [{"values": ["x"]}]},
        {"embeddings": [{}]},
        {"nothing": 1},
        [1],
    ],
)
def test_malformed_responses(payload: object) -> None:
    with pytest.raises(UpstreamError) as caught:
        codec().parse_embeddings(orjson.dumps(payload), request(input="a"), CTX)
    assert caught.value.outcome == "malformed_response"
