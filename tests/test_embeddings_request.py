"""Parsing /v1/embeddings bodies: input shapes, dimensions, encoding_format; 400s name the field."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.embeddings_request import parse_embeddings_request
from proxy.errors import ProxyError


def parse(body: Any) -> Any:
    return parse_embeddings_request(orjson.dumps(body))


@pytest.mark.parametrize(
    ("value", "texts"),
    [
        ("one", ("one",)),
        (["a", "b"], ("a", "b")),
        ([1, 2, 3], None),
        ([[1, 2], [3]], None),
    ],
)
def test_input_shapes(value: Any, texts: tuple[str, ...] | None) -> None:
    req = parse({"model": "m", "input": value})
    assert req.texts == texts
    assert (req.dimensions, req.encoding_format) == (None, "float")


def test_options_and_raw_kept() -> None:
    raw = b'{"model":"m","input":"x","dimensions":256,"encoding_format":"base64","user":"u"}'
    req = parse_embeddings_request(raw)
    assert (req.model, req.dimensions, req.encoding_format) == ("m", 256, "base64")
    assert req.raw == raw and req.body["user"] == "u"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "", "input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": [1.5]}, "input"),
        ({"model": "m", "input": ["a", 1]}, "input"),
        ({"model": "m", "input": [[]]}, "input"),
        ({"model": "m", "input": [True]}, "input"),
        ({"model": "m", "input": {"text": "x"}}, "input"),
        ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "m", "input": "x", "dimensions": "8"}, "dimensions"),
        ({"model": "m", "input": "x", "dimensions": True}, "dimensions"),
        ({"model": "m", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(body: Any, param: str) -> None:
    with pytest.raises(ProxyError) as caught:
        parse(body)
    assert (caught.value.status, caught.value.param) == (400, param)


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b'"x"'])
def test_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(ProxyError) as caught:
        parse_embeddings_request(raw)
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")
