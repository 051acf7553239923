"""Parse and validate an incoming Embeddings request (`POST /v1/embeddings`), once.

`input` is a string, a list of strings, a token array (list of ints) or a list of token
arrays, as in https://platform.openai.com/docs/api-reference/embeddings/create. Only what
the proxy relies on is checked; other fields are left for the upstream to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from proxy.errors import invalid_request

EncodingFormat = Literal["float", "base64"]
_INPUT_SHAPE = "a string, an array of strings, an array of integers or an array of such arrays"


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    body: dict[str, Any]  # the parsed client JSON; adapters never mutate it
    raw: bytes  # the client's bytes, forwarded as-is when nothing needs rewriting
    model: str
    texts: tuple[str, ...] | None  # the inputs as text; None when they are token arrays
    dimensions: int | None
    encoding_format: EncodingFormat


def parse_embeddings_request(raw: bytes) -> EmbeddingsRequest:
    body = parse_json_object(raw)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request(
            "Missing or invalid parameter 'model': expected a string.", "model", "invalid_type"
        )
    if "input" not in body:
        raise invalid_request(
            "Missing required parameter: 'input'.", "input", "missing_required_parameter"
        )
    texts = _texts(body["input"])
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise invalid_request(
            "Invalid 'dimensions': expected an integer >= 1.", "dimensions", "invalid_value"
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise invalid_request(
            "Invalid 'encoding_format': expected 'float' or 'base64'.",
            "encoding_format",
            "invalid_value",
        )
    return EmbeddingsRequest(body, raw, model, texts, dimensions, encoding)


def _texts(value: Any) -> tuple[str, ...] | None:
    """The inputs as strings, or None for token arrays; anything else is a 400."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return tuple(value)
        if all(_is_int(v) for v in value):
            return None
        if all(isinstance(v, list) and v and all(_is_int(t) for t in v) for v in value):
            return None
    raise invalid_request(f"Invalid 'input': expected {_INPUT_SHAPE}.", "input", "invalid_value")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the 400 that says why not (as request.py answers)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(
            f"We could not parse the JSON body of your request: {str(exc)[:200]}",
            code="invalid_json",
        ) from exc
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    return body
