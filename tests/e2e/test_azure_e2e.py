"""The proxy in front of a fake Azure OpenAI upstream (tests/fakes/azure.py): both URL
schemes, api-version, api-key and Entra ID auth, extra headers and query, content-filter
results passed through untouched, and Azure's content_filter 400 answered, not fallen back."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import orjson
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.azure import PROMPT_FILTER_RESULTS, SAFE, FakeAzure
from tests.fakes.openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "Say hello"}]


def yaml_for(azure: str, backup: str) -> str:
    return f"""
providers:
  az:
    type: azure
    base_url: {azure}
    api_key: ${{AZ_KEY}}
    options: {{api_version: "2024-10-21"}}
    headers: {{X-Team: "${{TEAM}}", OpenAI-Project: proj_1}}
    query: {{trace: "on"}}
  az-v1:
    type: azure
    base_url: {azure}/openai
    api_key: ${{AZ_KEY}}
  az-entra:
    type: azure
    base_url: {azure}
    api_key: ${{AZ_TOKEN}}
    options: {{auth: entra, api_version: v1}}
  backup:
    type: openai
    base_url: {backup}/v1
models:
  deploy:
    - {{provider: az, model: my-gpt4o}}
    - {{provider: backup, model: gpt-backup}}
  v1:
    - {{provider: az-v1, model: gpt-4o}}
  entra:
    - {{provider: az-entra, model: gpt-4o-mini}}
  embed:
    kind: embeddings
    deployments:
      - {{provider: az, model: my-embed}}
"""


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure()


@pytest.fixture
def backup() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def proxy_url(
    fake: FakeAzure, backup: FakeOpenAI, serve: Callable[..., str], start_proxy: Callable[..., str]
) -> str:
    env = {"AZ_KEY": fake.api_key, "AZ_TOKEN": fake.entra_token, "TEAM": "search"}
    return start_proxy(yaml_for(serve(fake.app()), serve(backup.app())), env=env)


@pytest.fixture
def client(proxy_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0)


def test_deployment_scheme_passes_filter_results_through(proxy_url: str, fake: FakeAzure) -> None:
    response = httpx.post(
        f"{proxy_url}/v1/chat/completions",
        json={"model": "deploy", "messages": MESSAGES},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert response.status_code == 200
    assert response.content == orjson.dumps(fake.completion("my-gpt4o"))  # byte-exact
    sent = fake.requests[-1]
    assert sent.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert sent.query == {"api-version": "2024-10-21", "trace": "on"}
    assert sent.headers["api-key"] == fake.api_key
    assert "authorization" not in sent.headers
    assert sent.headers["x-team"] == "search"
    assert sent.headers["openai-project"] == "proj_1"


def test_stream_keeps_azure_first_chunk(client: openai.OpenAI, fake: FakeAzure) -> None:
    chunks = list(client.chat.completions.create(model="deploy", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert chunks[0].choices == []
    assert (chunks[0].model_extra or {})["prompt_filter_results"] == PROMPT_FILTER_RESULTS
    assert (chunks[1].choices[0].model_extra or {})["content_filter_results"] == SAFE
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from Azure."


def test_v1_scheme(client: openai.OpenAI, fake: FakeAzure) -> None:
    answer = client.chat.completions.create(model="v1", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == fake.content
    sent = fake.requests[-1]
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.query == {}
    assert sent.body["model"] == "gpt-4o"


def test_entra_token_is_a_bearer_token(client: openai.OpenAI, fake: FakeAzure) -> None:
    client.chat.completions.create(model="entra", messages=MESSAGES)  # type: ignore[arg-type]
    sent = fake.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {fake.entra_token}"
    assert "api-key" not in sent.headers


def test_content_filter_error_is_the_clients_not_a_fallback(
    client: openai.OpenAI, fake: FakeAzure, backup: FakeOpenAI
) -> None:
    fake.mode = "filtered"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="deploy", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.code == "content_filter"
    assert caught.value.param == "prompt"
    assert backup.hits == 0


def test_server_error_falls_back(
    client: openai.OpenAI, fake: FakeAzure, backup: FakeOpenAI
) -> None:
    fake.status = 503
    answer = client.chat.completions.with_raw_response.create(model="deploy", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.headers["x-proxy-provider"] == "backup"
    assert backup.hits == 1


def test_key_never_reaches_the_client(client: openai.OpenAI, fake: FakeAzure) -> None:
    fake.api_key = "rotated"  # the proxy's key is now wrong: Azure answers 401
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="v1", messages=MESSAGES)  # type: ignore[arg-type]
    assert "azure-key-123" not in str(caught.value.response.text)


def test_embeddings_on_the_deployment_scheme(client: openai.OpenAI, fake: FakeAzure) -> None:
    answer = client.embeddings.create(model="embed", input=["abcd"], encoding_format="float")
    assert answer.data[0].embedding == [4.0, 0.5]
    sent = fake.requests[-1]
    assert sent.path == "/openai/deployments/my-embed/embeddings"
    assert sent.query == {"api-version": "2024-10-21", "trace": "on"}
