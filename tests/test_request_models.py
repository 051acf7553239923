"""proxy/request.py: the body's `models` (per-request routing), parsed once."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.errors import ProxyError
from proxy.request import parse_chat_request

MESSAGES = [{"role": "user", "content": "hi"}]


def parse(max_models: int = 8, **body: Any) -> Any:
    return parse_chat_request(orjson.dumps({"messages": MESSAGES, **body}), max_models)


@pytest.mark.parametrize(
    "body",
    [
        {"models": ["smart", "fast"]},
        {"model": "smart", "models": ["smart", "fast"]},
    ],
)
def test_models_set_the_model_and_leave_the_body(body: dict[str, Any]) -> None:
    req = parse(**body)
    assert (req.model, req.models) == ("smart", ("smart", "fast"))
    assert "models" not in req.body and req.body["model"] == "smart"


def test_without_models_nothing_changes() -> None:
    req = parse(model="smart")
    assert req.models is None and req.body == {"messages": MESSAGES, "model": "smart"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "fast", "models": ["smart"]}, "invalid_value"),
        ({"models": []}, "invalid_type"),
        ({"models": None}, "invalid_type"),
        ({"models": {"a": 1}}, "invalid_type"),
        ({"models": ["smart", ""]}, "invalid_type"),
        ({"models": ["a", "b", "c"]}, "array_above_max_length"),
    ],
)
def test_bad_models_are_a_400_naming_models(body: dict[str, Any], code: str) -> None:
    with pytest.raises(ProxyError) as caught:
        parse(max_models=2, **body)
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, "models", code)
