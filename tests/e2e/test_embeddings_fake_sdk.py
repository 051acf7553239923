"""The fake embeddings upstreams, checked with the official SDKs (google-genai, openai).

If the SDKs parse what the fakes say, the fakes speak the real wire formats, and the
proxy's embeddings tests against them mean something.
"""

from __future__ import annotations

from collections.abc import Callable

import openai
from google import genai
from google.genai import types

from tests.fakes.embeddings import (
    FakeGeminiEmbeddings,
    FakeOpenAIEmbeddings,
    floats_of_base64,
    vector,
)

KEY = "fake-gemini-key"


def test_gemini_fake_speaks_batch_embed_contents(serve: Callable[..., str]) -> None:
    fake = FakeGeminiEmbeddings(api_key=KEY)
    options = types.HttpOptions(
        base_url=serve(fake.app()),
        api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    client = genai.Client(api_key=KEY, http_options=options)
    answer = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["first", "second one"],
        config=types.EmbedContentConfig(output_dimensionality=3),
    )
    assert answer.embeddings is not None
    assert [e.values for e in answer.embeddings] == [vector(5, 0, 3), vector(10, 1, 3)]
    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent.body["requests"][1] == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "second one"}], "role": "user"},
        "outputDimensionality": 3,
    }


def test_openai_fake_speaks_embeddings(serve: Callable[..., str]) -> None:
    fake = FakeOpenAIEmbeddings()
    client = openai.OpenAI(base_url=f"{serve(fake.app())}/v1", api_key="k", max_retries=0)
    expected = [vector(2, 0, None), vector(3, 1, None)]
    # Without encoding_format the SDK asks for base64 itself and decodes it.
    answer = client.embeddings.create(model="text-embedding-3-small", input=["ab", "abc"])
    assert fake.requests[-1].body["encoding_format"] == "base64"
    assert [d.embedding for d in answer.data] == expected
    assert answer.usage.prompt_tokens == 5
    answer = client.embeddings.create(
        model="text-embedding-3-small", input=["ab", "abc"], encoding_format="float"
    )
    assert [d.embedding for d in answer.data] == expected
    explicit = client.embeddings.create(
        model="text-embedding-3-small", input=["ab", "abc"], encoding_format="base64"
    )
    assert [floats_of_base64(str(d.embedding)) for d in explicit.data] == expected
