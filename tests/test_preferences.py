"""Per-request routing (proxy/preferences.py): the plan for the body's `models` and the
x-proxy-route header. End to end: tests/e2e/test_routing_preferences_e2e.py."""

from __future__ import annotations

import pytest

from proxy.config import Deployment, ModelKind
from proxy.errors import ProxyError, not_found
from proxy.preferences import preferred_plan, providers_of

TABLE = {
    "smart": (Deployment("a", "a-big"), Deployment("b", "b-big")),
    "fast": (Deployment("b", "b-small"), Deployment("c", "c-small")),
}


def plan(model: str, kind: ModelKind) -> tuple[Deployment, ...]:
    if model not in TABLE:
        raise not_found(f"The model '{model}' does not exist.", code="model_not_found")
    return TABLE[model]


@pytest.mark.parametrize(
    ("models", "route", "expected"),
    [
        (None, None, ["a-big", "b-big"]),
        (("smart", "fast"), None, ["a-big", "b-big", "b-small", "c-small"]),
        (("fast", "smart"), None, ["b-small", "c-small", "a-big", "b-big"]),
        (None, "b", ["b-big"]),
        (("smart", "fast"), "c, b", ["b-big", "b-small", "c-small"]),  # the table's order
        (("smart", "fast"), " c ,,unknown", ["c-small"]),
    ],
)
def test_plan_follows_models_then_route(
    models: tuple[str, ...] | None, route: str | None, expected: list[str]
) -> None:
    got = preferred_plan(plan, "smart" if models is None else models[0], "chat", models, route)
    assert [d.model for d in got] == expected


def test_an_unknown_listed_model_is_the_usual_404() -> None:
    with pytest.raises(ProxyError) as caught:
        preferred_plan(plan, "smart", "chat", ("smart", "nope"), None)
    assert (caught.value.status, caught.value.code) == (404, "model_not_found")


@pytest.mark.parametrize("route", ["z", "", " , "])
def test_a_route_serving_nothing_is_a_400_naming_the_header(route: str) -> None:
    with pytest.raises(ProxyError) as caught:
        preferred_plan(plan, "smart", "chat", None, route)
    assert (caught.value.status, caught.value.param) == (400, "x-proxy-route")
    assert "served by: a, b" in caught.value.message


def test_a_listed_model_the_key_may_not_use_is_the_same_404() -> None:
    """Named keys (issue 11) are not wired into requests on this branch: the check is
    tested through preferred_plan's `allowed` hook."""
    with pytest.raises(ProxyError) as caught:
        preferred_plan(plan, "smart", "chat", ("smart", "fast"), None, lambda m: m == "smart")
    assert (caught.value.status, caught.value.code) == (404, "model_not_found")
    assert "'fast'" in caught.value.message
    both = preferred_plan(plan, "smart", "chat", ("smart", "fast"), None, lambda m: True)
    assert len(both) == 4


def test_providers_of_ignores_blanks() -> None:
    assert providers_of(" a,b ,, ") == {"a", "b"}
