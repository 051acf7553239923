"""POST /v1/embeddings end to end: the proxy on 127.0.0.1 in front of fake OpenAI-format and
Gemini embeddings upstreams, driven by the `openai` SDK and LangChain's OpenAIEmbeddings."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import openai
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.embeddings import (
    FakeGeminiEmbeddings,
    FakeOpenAIEmbeddings,
    floats_of_base64,
    vector,
)
from tests.fakes.openai import FakeOpenAI
from tests.metrics_scrape import delta, scrape, value

GEMINI_KEY = "fake-gemini-key"
TEXTS = ["ab", "abcd"]


def yaml_for(openai_url: str, gemini_url: str, chat_url: str) -> str:
    return f"""
providers:
  oai:
    type: openai
    base_url: {openai_url}/v1
    api_key: sk-oai
  gem:
    type: gemini
    base_url: {gemini_url}
    api_key: {GEMINI_KEY}
  chat:
    type: openai
    base_url: {chat_url}/v1
models:
  embed-openai:
    kind: embeddings
    deployments:
      - {{provider: oai, model: text-embedding-3-small}}
  embed-gemini:
    kind: embeddings
    deployments:
      - {{provider: gem, model: gemini-embedding-001}}
  embed-fallback:
    kind: embeddings
    deployments:
      - {{provider: oai, model: text-embedding-3-small}}
      - {{provider: gem, model: gemini-embedding-001}}
  gpt:
    - {{provider: chat, model: gpt-4.1}}
"""


@pytest.fixture
def oai() -> FakeOpenAIEmbeddings:
    return FakeOpenAIEmbeddings()


@pytest.fixture
def gem() -> FakeGeminiEmbeddings:
    return FakeGeminiEmbeddings(api_key=GEMINI_KEY)


@pytest.fixture
def proxy_url(
    oai: FakeOpenAIEmbeddings,
    gem: FakeGeminiEmbeddings,
    serve: Callable[..., str],
    start_proxy: Callable[..., str],
) -> str:
    chat = serve(FakeOpenAI().app())
    return start_proxy(yaml_for(serve(oai.app()), serve(gem.app()), chat))


@pytest.fixture
def client(proxy_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0)


EXPECTED = [vector(2, 0, None), vector(4, 1, None)]


@pytest.mark.parametrize("model", ["embed-openai", "embed-gemini"])
@pytest.mark.parametrize("encoding", ["float", "base64", None])
def test_sdk_embeddings(client: openai.OpenAI, model: str, encoding: str | None) -> None:
    if encoding is None:  # the SDK's default: it asks for base64 and decodes it itself
        answer = client.embeddings.create(model=model, input=TEXTS)
        vectors = [d.embedding for d in answer.data]
    else:
        answer = client.embeddings.create(model=model, input=TEXTS, encoding_format=encoding)  # type: ignore[arg-type]
        raw = [d.embedding for d in answer.data]
        vectors = [floats_of_base64(str(v)) for v in raw] if encoding == "base64" else raw
    assert vectors == EXPECTED
    assert [d.index for d in answer.data] == [0, 1]
    assert answer.usage.prompt_tokens == 6


def test_gemini_request_translation(client: openai.OpenAI, gem: FakeGeminiEmbeddings) -> None:
    answer = client.embeddings.create(model="embed-gemini", input="hello", dimensions=3)
    assert answer.data[0].embedding == vector(5, 0, 3)
    assert answer.model == "embed-gemini"
    sent = gem.requests[-1]
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert sent.body == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "hello"}]},
                "outputDimensionality": 3,
            }
        ]
    }


def test_openai_passthrough_rewrites_only_the_model(
    proxy_url: str, oai: FakeOpenAIEmbeddings
) -> None:
    body = {"model": "embed-openai", "input": "x", "user": "u-1", "vendor_field": [1]}
    response = httpx.post(
        f"{proxy_url}/v1/embeddings", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
    )
    assert response.status_code == 200
    assert response.headers["x-proxy-provider"] == "oai"
    assert oai.requests[-1].body == {**body, "model": "text-embedding-3-small"}
    assert oai.requests[-1].headers["authorization"] == "Bearer sk-oai"


@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2], [3, 4, 5]]])
def test_token_arrays_pass_through_to_openai(
    client: openai.OpenAI, oai: FakeOpenAIEmbeddings, tokens: list[int] | list[list[int]]
) -> None:
    answer = client.embeddings.create(model="embed-openai", input=tokens, encoding_format="float")
    assert oai.requests[-1].body["input"] == tokens
    assert len(answer.data) == (1 if isinstance(tokens[0], int) else 2)


def test_token_arrays_to_gemini_are_a_400_naming_input(
    client: openai.OpenAI, gem: FakeGeminiEmbeddings
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="embed-gemini", input=[[1, 2, 3]])
    assert caught.value.param == "input"
    assert "token arrays" in caught.value.message
    assert gem.requests == []


def test_fallback_to_gemini_when_openai_fails(
    client: openai.OpenAI, oai: FakeOpenAIEmbeddings, gem: FakeGeminiEmbeddings
) -> None:
    oai.status = 503
    answer = client.embeddings.with_raw_response.create(
        model="embed-fallback", input=TEXTS, encoding_format="float"
    )
    assert answer.headers["x-proxy-provider"] == "gem"
    assert answer.headers["x-proxy-attempts"] == "2"
    assert [d.embedding for d in answer.parse().data] == EXPECTED
    assert len(oai.requests) == 1 and len(gem.requests) == 1


def test_all_failing_is_a_gateway_error(client: openai.OpenAI, oai: FakeOpenAIEmbeddings) -> None:
    oai.status = 500
    with pytest.raises(openai.APIStatusError) as caught:
        client.embeddings.create(model="embed-openai", input="x")
    assert caught.value.status_code in (502, 503)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda c: c.embeddings.create(model="gpt", input="x"), "model"),
        (
            lambda c: c.chat.completions.create(
                model="embed-openai", messages=[{"role": "user", "content": "hi"}]
            ),
            "model",
        ),
        (lambda c: c.embeddings.create(model="embed-openai", input=[]), "input"),
        (lambda c: c.embeddings.create(model="embed-openai", input=[1.5]), "input"),
        (
            lambda c: c.embeddings.create(model="embed-openai", input="x", dimensions=0),
            "dimensions",
        ),
    ],
)
def test_wrong_model_kind_or_input_is_a_400(
    client: openai.OpenAI, call: Callable[[openai.OpenAI], object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        call(client)
    assert caught.value.param == param


def test_unknown_model_is_404_and_auth_is_required(proxy_url: str) -> None:
    url = f"{proxy_url}/v1/embeddings"
    body = {"model": "nope", "input": "x"}
    assert httpx.post(url, json=body).status_code == 401
    response = httpx.post(url, json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_other_methods_are_405(proxy_url: str) -> None:
    response = httpx.get(f"{proxy_url}/v1/embeddings")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("model", ["embed-openai", "embed-gemini"])
def test_langchain_openai_embeddings(proxy_url: str, model: str) -> None:
    from langchain_openai import OpenAIEmbeddings

    # check_embedding_ctx_length=False: otherwise LangChain tokenizes with tiktoken (a
    # download) and sends token arrays; those have their own passthrough test above.
    embedder = OpenAIEmbeddings(
        model=model,
        base_url=f"{proxy_url}/v1",
        api_key=CLIENT_KEY,
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    assert embedder.embed_documents(TEXTS) == EXPECTED
    assert embedder.embed_query("abc") == vector(3, 0, None)


def test_metrics_carry_model_and_provider(proxy_url: str, client: openai.OpenAI) -> None:
    before = scrape(proxy_url)
    client.embeddings.create(model="embed-openai", input=TEXTS, encoding_format="float")
    labels = {"model": "embed-openai", "provider": "oai", "status": "200"}
    tokens = {"model": "embed-openai", "provider": "oai", "kind": "prompt"}
    # The account is written just after the last byte is sent: wait for it, bounded.
    deadline = time.monotonic() + 5
    while delta(before, scrape(proxy_url), "proxy_requests_total", **labels) < 1:
        assert time.monotonic() < deadline, "the request was never counted"
        time.sleep(0.02)
    assert delta(before, scrape(proxy_url), "proxy_tokens_total", **tokens) == 6


def test_client_disconnect_is_counted_not_a_provider_failure(
    proxy_url: str, oai: FakeOpenAIEmbeddings
) -> None:
    oai.delay = 3
    before = scrape(proxy_url)
    body = {"model": "embed-openai", "input": "x"}
    with pytest.raises(httpx.TimeoutException):  # the client gives up and hangs up
        httpx.post(
            f"{proxy_url}/v1/embeddings",
            json=body,
            headers={"authorization": f"Bearer {CLIENT_KEY}"},
            timeout=0.5,
        )
    deadline = time.monotonic() + 5
    while (
        delta(before, scrape(proxy_url), "proxy_client_disconnects_total", model="embed-openai") < 1
    ):
        assert time.monotonic() < deadline, "the disconnect was never noticed"
        time.sleep(0.05)
    after = scrape(proxy_url)
    assert (
        delta(
            before,
            after,
            "proxy_upstream_attempts_total",
            provider="oai",
            outcome="client_disconnect",
        )
        == 1
    )
    assert value(after, "proxy_in_flight_requests") == 0
