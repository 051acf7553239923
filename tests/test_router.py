"""Fallback down the deployment list, against two fake upstreams on loopback."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.openai import FakeOpenAI
from tests.servers import free_port

PRIMARY_KEY = "sk-primary-secret-111111"
SECONDARY_KEY = "sk-secondary-secret-222222"
MESSAGES = [{"role": "user", "content": "hi"}]


def two_deployments(primary_url: str, secondary_url: str, timeout: float = 5) -> str:
    return f"""
providers:
  primary:
    type: openai
    base_url: {primary_url}/v1
    api_key: ${{PRIMARY_KEY}}
    timeout: {timeout}
  secondary:
    type: openai
    base_url: {secondary_url}/v1
    api_key: ${{SECONDARY_KEY}}
models:
  gpt:
    - {{provider: primary, model: p-model}}
    - {{provider: secondary, model: s-model}}
"""


class Pair:
    def __init__(self, serve: Callable[..., str], start_proxy: Callable[..., str]) -> None:
        self.primary = FakeOpenAI(name="primary", content="from primary")
        self.secondary = FakeOpenAI(name="secondary", content="from secondary")
        self.primary_url = serve(self.primary.app())
        self.secondary_url = serve(self.secondary.app())
        self._start = start_proxy

    def start(self, primary_url: str | None = None, timeout: float = 5) -> openai.OpenAI:
        yaml_text = two_deployments(primary_url or self.primary_url, self.secondary_url, timeout)
        url = self._start(
            yaml_text, env={"PRIMARY_KEY": PRIMARY_KEY, "SECONDARY_KEY": SECONDARY_KEY}
        )
        self.url = url
        return openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)


@pytest.fixture
def pair(serve: Callable[..., str], start_proxy: Callable[..., str]) -> Pair:
    return Pair(serve, start_proxy)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
@pytest.mark.parametrize("stream", [False, True])
def test_retryable_status_falls_back(pair: Pair, status: int, stream: bool) -> None:
    pair.primary.status = status
    pair.secondary.chunks = 3  # a stream from the secondary is told apart by its length
    client = pair.start()
    assert _ask(client, stream) == ("w0 w1 w2 " if stream else "from secondary")
    assert (pair.primary.hits, pair.secondary.hits) == (1, 1)
    assert pair.secondary.requests[0].body["model"] == "s-model"
    assert pair.secondary.requests[0].headers["authorization"] == f"Bearer {SECONDARY_KEY}"


def _ask(client: openai.OpenAI, stream: bool) -> str:
    if not stream:
        return (
            client.chat.completions.create(model="gpt", messages=MESSAGES)
            .choices[0]
            .message.content
            or ""
        )
    chunks = client.chat.completions.create(model="gpt", messages=MESSAGES, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_connection_refused_falls_back(pair: Pair) -> None:
    client = pair.start(primary_url=f"http://127.0.0.1:{free_port()}")
    assert _ask(client, False) == "from secondary"


def test_timeout_falls_back(pair: Pair) -> None:
    pair.primary.delay = 3
    client = pair.start(timeout=0.5)
    assert _ask(client, False) == "from secondary"
    assert pair.primary.hits == 1


def test_malformed_reply_falls_back(pair: Pair) -> None:
    pair.primary.mode = "malformed"
    client = pair.start()
    assert _ask(client, False) == "from secondary"


def test_first_stream_event_error_falls_back(pair: Pair) -> None:
    pair.primary.mode = "first_event_error"
    client = pair.start()
    assert _ask(client, True) == "w0 w1 w2 w3 w4 "
    assert pair.primary.hits == 1


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_client_errors_do_not_fall_back(pair: Pair, status: int) -> None:
    pair.primary.status = status
    client = pair.start()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="gpt", messages=MESSAGES)
    assert info.value.status_code == status
    assert f"fake error {status}" in info.value.message
    assert pair.secondary.hits == 0


def test_redirect_is_not_followed(pair: Pair) -> None:
    pair.primary.mode = "redirect"
    pair.primary.redirect_to = f"{pair.secondary_url}/v1/chat/completions"
    client = pair.start()
    # The 302 counts as a broken primary; the secondary is reached only through its own route.
    assert _ask(client, False) == "from secondary"
    assert pair.secondary.requests[0].headers["authorization"] == f"Bearer {SECONDARY_KEY}"
    assert all(PRIMARY_KEY not in str(r.headers) for r in pair.secondary.requests)


def test_provider_auth_failure_falls_back_without_leaking_key(pair: Pair) -> None:
    pair.primary.status = 401
    pair.primary.mode = "echo_auth"
    pair.secondary.status = 503
    client = pair.start()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="gpt", messages=MESSAGES)
    assert info.value.status_code == 502
    assert PRIMARY_KEY not in str(info.value.body) and PRIMARY_KEY not in info.value.message


def test_all_failed_lists_each_attempt(pair: Pair) -> None:
    pair.primary.status = 500
    pair.secondary.status = 503
    client = pair.start()
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="gpt", messages=MESSAGES)
    assert info.value.status_code == 502
    assert "primary: server_error" in info.value.message
    assert "secondary: server_error" in info.value.message
    assert PRIMARY_KEY not in info.value.message and SECONDARY_KEY not in info.value.message


def test_all_rate_limited_is_429_with_retry_after(pair: Pair) -> None:
    pair.primary.status = pair.secondary.status = 429
    pair.primary.headers = {"retry-after": "7"}
    pair.secondary.headers = {"retry-after": "3"}
    pair.start()
    response = httpx.post(
        f"{pair.url}/v1/chat/completions",
        json={"model": "gpt", "messages": MESSAGES},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(response.headers["retry-after"]) <= 3
    # Both providers now cool down: the next request reaches neither.
    again = httpx.post(
        f"{pair.url}/v1/chat/completions",
        json={"model": "gpt", "messages": MESSAGES},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert again.status_code == 503
    assert (pair.primary.hits, pair.secondary.hits) == (1, 1)


def test_unset_key_disables_provider_and_model_answers_503(
    serve: Callable[..., str], start_proxy: Callable[..., str]
) -> None:
    fake = FakeOpenAI()
    yaml_text = f"""
providers:
  up: {{type: openai, base_url: {serve(fake.app())}/v1, api_key: "${{MISSING_KEY_VAR}}"}}
  mock: {{type: mock}}
models:
  gpt: [{{provider: up, model: x}}]
  demo: [{{provider: mock, model: m}}]
"""
    url = start_proxy(yaml_text)
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    models = httpx.get(f"{url}/v1/models", headers=headers).json()
    assert [m["id"] for m in models["data"]] == ["demo"]
    response = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "gpt", "messages": MESSAGES}, headers=headers
    )
    assert response.status_code == 503
    assert "MISSING_KEY_VAR" in response.json()["error"]["message"]
