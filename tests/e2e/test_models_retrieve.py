"""GET /v1/models/{model}: OpenAI's model object for a listed public model, else a 404."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from tests.conftest import CLIENT_KEY

YAML = """
providers:
  mock: {type: mock}
  gone: {type: openai, base_url: "https://api.openai.com/v1", api_key: "${UNSET_KEY}"}
models:
  demo:
    - {provider: mock, model: mock-1}
  vendor/with-slash:
    - {provider: mock, model: mock-1}
  disabled:
    - {provider: gone, model: gpt-4.1}
"""


@pytest.fixture
def proxy_url(start_proxy: Callable[..., str]) -> str:
    return start_proxy(YAML)


@pytest.fixture
def client(proxy_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0)


@pytest.mark.parametrize("name", ["demo", "vendor/with-slash"])
def test_known_model(client: openai.OpenAI, name: str) -> None:
    model = client.models.retrieve(name)
    assert (model.id, model.object, model.owned_by) == (name, "model", "llm-proxy")
    listed = {m.id: m for m in client.models.list()}
    assert listed[name] == model


@pytest.mark.parametrize("name", ["nope", "disabled"])
def test_unknown_or_unavailable_model_is_404(client: openai.OpenAI, name: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve(name)
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


def test_needs_a_key(proxy_url: str) -> None:
    assert httpx.get(f"{proxy_url}/v1/models/demo").status_code == 401


def test_embeddings_models_and_mock_embeddings(start_proxy: Callable[..., str]) -> None:
    url = start_proxy(
        YAML + "  embed:\n    kind: embeddings\n    deployments: [{provider: mock, model: e}]\n"
    )
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)
    assert client.models.retrieve("embed").id == "embed"
    # The offline demo config's embeddings model (providers.yaml) works with no keys.
    answer = client.embeddings.create(model="embed", input=["a", "b"], dimensions=4)
    assert [len(d.embedding) for d in answer.data] == [4, 4]
    again = client.embeddings.create(model="embed", input=["a", "b"], dimensions=4)
    assert [d.embedding for d in again.data] == [d.embedding for d in answer.data]
