"""The proxy on 127.0.0.1 in front of a fake OpenAI upstream, driven by the official SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import openai
import pytest
from pydantic import BaseModel

from proxy.sse import SSEDecoder
from tests.conftest import CLIENT_KEY
from tests.fakes.openai import FakeOpenAI

PROVIDER_KEY = "sk-fake-provider-key-abcdef"


def yaml_for(url: str, model: str = "gpt-upstream") -> str:
    return f"""
providers:
  up:
    type: openai
    base_url: {url}/v1
    api_key: ${{UP_KEY}}
models:
  gpt:
    - {{provider: up, model: {model}}}
"""


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def proxy_url(fake: FakeOpenAI, serve: Callable[..., str], start_proxy: Callable[..., str]) -> str:
    return start_proxy(yaml_for(serve(fake.app())), env={"UP_KEY": PROVIDER_KEY})


@pytest.fixture
def client(proxy_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0)


MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_non_stream(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    answer = client.chat.completions.create(model="gpt", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hello from the fake upstream."
    assert answer.usage is not None and answer.usage.total_tokens == 12
    sent = fake.requests[0]
    assert sent.body["model"] == "gpt-upstream"
    assert sent.body["messages"] == MESSAGES
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"


def test_client_credentials_and_hop_by_hop_headers_never_forwarded(
    proxy_url: str, fake: FakeOpenAI
) -> None:
    response = httpx.post(
        f"{proxy_url}/v1/chat/completions",
        json={"model": "gpt", "messages": MESSAGES},
        headers={
            "authorization": f"Bearer {CLIENT_KEY}",
            "cookie": "session=secret-cookie",
            "proxy-authorization": "Basic c2VjcmV0",
            "x-forwarded-for": "10.0.0.1",
            "connection": "keep-alive, x-private",
            "x-private": "hop",
            "keep-alive": "timeout=5",
        },
    )
    assert response.status_code == 200
    received = fake.requests[0].headers
    assert received["authorization"] == f"Bearer {PROVIDER_KEY}"
    for name in (
        "cookie",
        "proxy-authorization",
        "x-forwarded-for",
        "x-private",
        "x-api-key",
        "keep-alive",
    ):
        assert name not in received
    assert CLIENT_KEY not in str(received)
    assert response.headers["x-proxy-provider"] == "up"
    assert response.headers["x-proxy-upstream-model"] == "gpt-upstream"
    assert response.headers["x-request-id"]


def test_x_api_key_header_authenticates(proxy_url: str) -> None:
    response = httpx.post(
        f"{proxy_url}/v1/chat/completions",
        json={"model": "gpt", "messages": MESSAGES},
        headers={"x-api-key": CLIENT_KEY, "x-request-id": "req-123"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-123"


def test_stream_arrives_incrementally_and_ends_with_done(proxy_url: str, fake: FakeOpenAI) -> None:
    # Lock-step: the fake sends content chunk i+1 only once this client has chunk i, so a
    # proxy that batched chunks would stall here (and the read time out) instead of passing.
    fake.chunks = 5
    fake.gates = [threading.Event() for _ in range(fake.chunks - 1)]
    lines: list[str] = []
    decoder = SSEDecoder()
    with httpx.stream(
        "POST",
        f"{proxy_url}/v1/chat/completions",
        json={"model": "gpt", "messages": MESSAGES, "stream": True},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=5,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert "content-length" not in response.headers
        content = 0
        for part in response.iter_raw():
            for event in decoder.feed(part):
                lines.append(event.data)
                if event.data != "[DONE]" and event.json()["choices"][0]["delta"].get("content"):
                    if content < len(fake.gates):
                        fake.gates[content].set()
                    content += 1
    assert lines[-1] == "[DONE]"
    assert content == fake.chunks


def test_stream_with_sdk_and_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "w0 w1 w2 w3 w4 "
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_models_list(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["gpt"]
    assert fake.hits == 0


class Answer(BaseModel):
    city: str
    population: int


def test_parse_with_pydantic_model(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.content = '{"city": "Paris", "population": 2100000}'
    completion = client.chat.completions.parse(
        model="gpt", messages=MESSAGES, response_format=Answer
    )
    assert completion.choices[0].message.parsed == Answer(city="Paris", population=2100000)
    assert fake.requests[0].body["response_format"]["type"] == "json_schema"


def test_bad_key_is_authentication_error(proxy_url: str, fake: FakeOpenAI) -> None:
    bad = openai.OpenAI(base_url=f"{proxy_url}/v1", api_key="wrong-key-123456", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="gpt", messages=MESSAGES)
    assert info.value.code == "invalid_api_key"
    assert fake.hits == 0


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="nope", messages=MESSAGES)
    assert info.value.param == "model"


def test_bad_body_is_bad_request(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt", messages=MESSAGES, temperature="hot")  # type: ignore[arg-type]
    assert info.value.param == "temperature"
    assert "temperature" in info.value.message
    assert fake.hits == 0


def test_big_body_is_413(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    huge = [{"role": "user", "content": "x" * (11 * 1024 * 1024)}]
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="gpt", messages=huge)
    assert info.value.status_code == 413
    assert fake.hits == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/nothing", 404),
        ("DELETE", "/v1/chat/completions", 405),
        ("POST", "/v1/models", 405),
    ],
)
def test_routes_and_methods_answer_openai_errors(
    proxy_url: str, method: str, path: str, status: int
) -> None:
    response = httpx.request(
        method, proxy_url + path, headers={"authorization": f"Bearer {CLIENT_KEY}"}
    )
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_health(proxy_url: str) -> None:
    assert httpx.get(f"{proxy_url}/health").status_code == 200
    assert httpx.get(f"{proxy_url}/metrics").status_code == 200
