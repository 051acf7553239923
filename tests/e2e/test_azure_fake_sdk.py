"""The fake Azure upstream, checked with the `openai` SDK's own Azure clients.

Users point `OpenAI(base_url=<proxy>)` at us, not AzureOpenAI; but if the official Azure
client talks to the fake, the fake speaks Azure's URL schemes, headers and shapes.
"""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from tests.fakes.azure import PROMPT_FILTER_RESULTS, FakeAzure

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure()


def test_deployment_scheme_with_key(fake: FakeAzure, serve: Callable[..., str]) -> None:
    client = openai.AzureOpenAI(
        azure_endpoint=serve(fake.app()),
        api_version="2024-10-21",
        api_key=fake.api_key,
        max_retries=0,
    )
    answer = client.chat.completions.create(model="my-gpt4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == fake.content
    extra = answer.model_extra or {}
    assert extra["prompt_filter_results"] == PROMPT_FILTER_RESULTS
    sent = fake.requests[-1]
    assert sent.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == fake.api_key
    vectors = client.embeddings.create(model="my-embed", input=["abc"], encoding_format="float")
    assert vectors.data[0].embedding == [3.0, 0.5]
    assert fake.requests[-1].path == "/openai/deployments/my-embed/embeddings"


def test_deployment_scheme_stream_with_entra_token(
    fake: FakeAzure, serve: Callable[..., str]
) -> None:
    client = openai.AzureOpenAI(
        azure_endpoint=serve(fake.app()),
        api_version="2025-04-01-preview",
        azure_ad_token=fake.entra_token,
        max_retries=0,
    )
    chunks = list(
        client.chat.completions.create(model="my-gpt4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    )
    assert chunks[0].choices == []
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from Azure."
    assert fake.requests[-1].headers["authorization"] == f"Bearer {fake.entra_token}"


def test_v1_scheme(fake: FakeAzure, serve: Callable[..., str]) -> None:
    # Microsoft's v1 quickstart: the plain OpenAI client on {endpoint}/openai/v1/.
    client = openai.OpenAI(
        base_url=f"{serve(fake.app())}/openai/v1/",
        api_key="unused",
        default_headers={"api-key": fake.api_key},
        max_retries=0,
    )
    answer = client.chat.completions.create(model="my-gpt4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == fake.content
    assert fake.requests[-1].path == "/openai/v1/chat/completions"
    assert fake.requests[-1].query == {}


def test_content_filter_error(fake: FakeAzure, serve: Callable[..., str]) -> None:
    fake.mode = "filtered"
    client = openai.AzureOpenAI(
        azure_endpoint=serve(fake.app()),
        api_version="2024-10-21",
        api_key=fake.api_key,
        max_retries=0,
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="my-gpt4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.code == "content_filter"


def test_wrong_key_and_missing_api_version(fake: FakeAzure, serve: Callable[..., str]) -> None:
    url = serve(fake.app())
    client = openai.AzureOpenAI(
        azure_endpoint=url, api_version="2024-10-21", api_key="wrong", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="d", messages=MESSAGES)  # type: ignore[arg-type]
    stale = openai.AzureOpenAI(
        azure_endpoint=url, api_version="2019-01-01", api_key=fake.api_key, max_retries=0
    )
    with pytest.raises(openai.NotFoundError):
        stale.chat.completions.create(model="d", messages=MESSAGES)  # type: ignore[arg-type]
