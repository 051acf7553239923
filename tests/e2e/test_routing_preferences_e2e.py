"""Per-request routing end to end: the body's `models` (OpenRouter's convention, sent with
the OpenAI SDK's extra_body) and the x-proxy-route header, against scripted upstreams."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.formats import OPENAI
from tests.fakes.scripted import Script, ScriptedUpstream


def two_models(first: str, second: str) -> str:
    providers = {"one": OPENAI.provider(first), "two": OPENAI.provider(second)}
    lines = "\n".join(f"  {k}: {orjson.dumps(v).decode()}" for k, v in providers.items())
    return (
        f"providers:\n{lines}\nmodels:\n"
        "  smart: [{provider: one, model: one-big}]\n"
        "  fast: [{provider: two, model: two-small}, {provider: one, model: one-small}]\n"
    )


def post(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}], **body},
        headers={"authorization": f"Bearer {CLIENT_KEY}", **headers},
    )


def test_models_fall_back_to_the_next_model_and_the_upstream_never_sees_the_list(
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
    caplog: pytest.LogCaptureFixture,
) -> None:
    one, two = scripted(OPENAI, Script(status=503)), scripted(OPENAI)
    url = start_proxy(two_models(one.url, two.url))
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)
    with caplog.at_level(logging.INFO, logger="proxy.access"):
        raw = client.chat.completions.with_raw_response.create(
            model="smart",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"models": ["smart", "fast"]},
        )
    assert raw.headers["x-proxy-provider"] == "two"
    assert raw.headers["x-proxy-upstream-model"] == "two-small"
    assert raw.headers["x-proxy-attempts"] == "2"
    sent = two.requests[0].body
    assert sent["model"] == "two-small" and "models" not in sent
    assert "models" not in one.requests[0].body
    [line] = [r for r in caplog.records if r.getMessage() == "request"]
    fields: dict[str, Any] = line.fields  # type: ignore[attr-defined]
    assert fields["models"] == ["smart", "fast"]
    assert [a["provider"] for a in fields["attempts"]] == ["one", "two"]


def test_models_alone_sets_the_model(
    start_proxy: Callable[..., str], scripted: Callable[..., ScriptedUpstream]
) -> None:
    one, two = scripted(OPENAI), scripted(OPENAI)
    url = start_proxy(two_models(one.url, two.url))
    reply = post(url, {"models": ["fast", "smart"]})
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-proxy-upstream-model"] == "two-small"
    assert two.requests[0].body["model"] == "two-small"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "fast", "models": ["smart", "fast"]}, 400, "models"),
        ({"models": []}, 400, "models"),
        ({"models": "smart"}, 400, "models"),
        ({"models": ["smart", 3]}, 400, "models"),
        ({"models": ["smart"] * 9}, 400, "models"),  # server.max_request_models: 8
        ({"models": ["smart", "nope"]}, 404, "model"),
    ],
)
def test_bad_models_are_refused_before_any_upstream_call(
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
    body: dict[str, Any],
    status: int,
    param: str,
) -> None:
    one, two = scripted(OPENAI), scripted(OPENAI)
    url = start_proxy(two_models(one.url, two.url))
    reply = post(url, body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["param"] == param
    assert one.hits == two.hits == 0


def test_route_header_restricts_the_providers(
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
    caplog: pytest.LogCaptureFixture,
) -> None:
    one, two = scripted(OPENAI), scripted(OPENAI)
    url = start_proxy(two_models(one.url, two.url))
    with caplog.at_level(logging.INFO, logger="proxy.access"):
        reply = post(url, {"model": "fast"}, **{"x-proxy-route": "one"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-proxy-upstream-model"] == "one-small"
    assert (one.hits, two.hits) == (1, 0)
    [line] = [r for r in caplog.records if r.getMessage() == "request"]
    assert line.fields["route"] == "one"  # type: ignore[attr-defined]


def test_route_header_with_no_provider_of_the_model_is_a_400(
    start_proxy: Callable[..., str], scripted: Callable[..., ScriptedUpstream]
) -> None:
    one, two = scripted(OPENAI), scripted(OPENAI)
    url = start_proxy(two_models(one.url, two.url))
    reply = post(url, {"model": "smart"}, **{"x-proxy-route": "two"})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == "x-proxy-route" and "x-proxy-route" in error["message"]
    assert one.hits == two.hits == 0


def test_route_and_models_in_a_stream(
    start_proxy: Callable[..., str], scripted: Callable[..., ScriptedUpstream]
) -> None:
    one, two = scripted(OPENAI), scripted(OPENAI)
    url = start_proxy(two_models(one.url, two.url))
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)
    with client.chat.completions.with_streaming_response.create(
        model="smart",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_body={"models": ["smart", "fast"]},
        extra_headers={"x-proxy-route": "two"},
    ) as response:
        assert response.headers["x-proxy-upstream-model"] == "two-small"
        assert "[DONE]" in response.read().decode()
    assert (one.hits, two.hits) == (0, 1)


TEAM_KEY = "sk-team-routing-0123456789"


@pytest.mark.parametrize(
    ("models", "status"),
    [
        (["smart"], 200),  # its own model: allowed
        (["smart", "fast"], 404),  # the second listed model is not the key's
        (["fast", "smart"], 404),  # nor as the first
    ],
)
def test_a_named_key_may_list_only_its_own_models(
    start_proxy: Callable[..., str],
    scripted: Callable[..., ScriptedUpstream],
    models: list[str],
    status: int,
) -> None:
    one, two = scripted(OPENAI, Script(status=503)), scripted(OPENAI)
    config = two_models(one.url, two.url) + (
        "auth:\n  keys:\n    - {name: team, key: '${TEAM_KEY}', models: [smart]}\n"
    )
    url = start_proxy(config, {"TEAM_KEY": TEAM_KEY})
    reply = httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}], "models": models},
        headers={"authorization": f"Bearer {TEAM_KEY}"},
    )
    if status == 404:
        assert reply.status_code == 404, reply.text
        error = reply.json()["error"]
        assert error["code"] == "model_not_found"
        assert error["message"] == (
            "The model 'fast' does not exist or you do not have access to it."
        )
        assert one.requests == [] and two.requests == []  # refused before any upstream call
    else:
        assert reply.status_code == 502, reply.text  # `smart` only: its one deployment fails
        assert len(one.requests) == 1 and two.requests == []
