"""The built-in mock provider, through the real app, with the official SDK."""

from __future__ import annotations

from collections.abc import Callable

import openai

from tests.conftest import CLIENT_KEY

YAML = """
providers:
  mock: {type: mock, options: {stream_chunks: 3}}
models:
  demo: [{provider: mock, model: mock-1}]
"""


def test_mock_answers_deterministically(start_proxy: Callable[..., str]) -> None:
    client = openai.OpenAI(base_url=start_proxy(YAML) + "/v1", api_key=CLIENT_KEY, max_retries=0)
    messages = [{"role": "user", "content": "what is up"}]
    first = client.chat.completions.create(model="demo", messages=messages)
    second = client.chat.completions.create(model="demo", messages=messages)
    assert first.choices[0].message.content == "Mock answer to: what is up"
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.usage is not None and first.usage.total_tokens == first.usage.prompt_tokens + 6
    chunks = list(
        client.chat.completions.create(
            model="demo", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Mock answer to: what is up"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 3
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
