"""Parsing a Messages request: Anthropic-style 400s naming the field; signed turns found."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.errors import ProxyError
from proxy.surfaces.messages.request import parse_messages_request

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 5, "messages": HI}, "model"),
        ({"model": "m", "messages": HI}, "max_tokens"),
        ({"model": "m", "max_tokens": 0, "messages": HI}, "max_tokens"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]},
            "messages.0.role",
        ),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 3}]},
            "messages.0.content",
        ),
        ({"model": "m", "max_tokens": 5, "messages": HI, "stream": "yes"}, "stream"),
    ],
)
def test_invalid(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ProxyError) as caught:
        parse_messages_request(orjson.dumps(body))
    assert caught.value.status == 400 and caught.value.param == param


@pytest.mark.parametrize("raw", [b"{", b"[]", b""])
def test_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(ProxyError):
        parse_messages_request(raw)


def test_signed_turns_and_count_tokens() -> None:
    thinking = {"type": "thinking", "thinking": "t", "signature": "s"}
    messages = [*HI, {"role": "assistant", "content": [thinking]}, *HI]
    req = parse_messages_request(
        orjson.dumps({"model": "m", "messages": messages}), count_only=True
    )
    assert req.signed and not req.stream
    plain = parse_messages_request(orjson.dumps({"model": "m", "max_tokens": 1, "messages": HI}))
    assert not plain.signed
    unsigned = {**thinking, "signature": ""}  # from a translated answer: binds to nobody
    messages = [*HI, {"role": "assistant", "content": [unsigned]}, *HI]
    body = orjson.dumps({"model": "m", "messages": messages})
    assert not parse_messages_request(body, count_only=True).signed
