"""Request hygiene: bad input is a 400 naming the field, never a 500."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import ProxyError
from proxy.request import parse_chat_request

OK = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}


def body(**changes: object) -> bytes:
    return orjson.dumps({**OK, **changes})


BAD = [
    (b"{not json", None, "invalid_json"),
    (b"[" * 100_000 + b"]" * 100_000, None, "invalid_json"),
    (b"[1, 2]", None, "invalid_json"),
    (orjson.dumps({"messages": OK["messages"]}), "model", "missing_required_parameter"),
    (body(model=7), "model", "invalid_type"),
    (orjson.dumps({"model": "gpt"}), "messages", "missing_required_parameter"),
    (body(messages="hi"), "messages", "invalid_type"),
    (body(messages=[]), "messages", "empty_array"),
    (body(messages=[{"role": "wizard", "content": "x"}]), "messages[0].role", "invalid_value"),
    (body(messages=[{"role": "user", "content": 5}]), "messages[0].content", "invalid_type"),
    (body(temperature="hot"), "temperature", "invalid_type"),
    (body(temperature=2.5), "temperature", "value_above_maximum"),
    (body(temperature=True), "temperature", "invalid_type"),
    (body(top_p=-0.1), "top_p", "value_below_minimum"),
    (body(n=0), "n", "value_below_minimum"),
    (body(n=1.5), "n", "invalid_type"),
    (body(max_tokens="10"), "max_tokens", "invalid_type"),
    (body(stream="yes"), "stream", "invalid_type"),
    (body(stop=[1]), "stop", "invalid_type"),
    (body(stop=["a", "b", "c", "d", "e"]), "stop", "array_above_max_length"),
    (
        body(tools=[{"type": "function", "function": {}}]),
        "tools[0].function.name",
        "missing_required_parameter",
    ),
    (body(tool_choice="sometimes"), "tool_choice", "invalid_value"),
    (body(response_format={"type": "yaml"}), "response_format.type", "invalid_value"),
    (
        body(response_format={"type": "json_schema"}),
        "response_format.json_schema",
        "missing_required_parameter",
    ),
    (body(presence_penalty=3), "presence_penalty", "value_above_maximum"),
    (body(logit_bias=[1]), "logit_bias", "invalid_type"),
]


@pytest.mark.parametrize(("raw", "param", "code"), BAD)
def test_bad_requests_are_400_naming_the_field(raw: bytes, param: str | None, code: str) -> None:
    with pytest.raises(ProxyError) as info:
        parse_chat_request(raw)
    assert info.value.status == 400
    assert info.value.param == param
    assert info.value.code == code
    if param:
        assert param.split("[")[0].split(".")[0] in info.value.message


def test_valid_request() -> None:
    req = parse_chat_request(
        body(stream=True, stream_options={"include_usage": True}, temperature=None)
    )
    assert (req.model, req.stream, req.include_usage) == ("gpt", True, True)


def test_include_usage_needs_stream() -> None:
    assert not parse_chat_request(body(stream_options={"include_usage": True})).include_usage
