"""Every provider preset through the proxy against a fake that reproduces the vendor's
documented quirks (tests/fakes/quirks.py): passthrough keeps them byte for byte, stream
and non-stream, and the openai SDK still reads the answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from proxy.config.presets import PRESETS
from tests.conftest import CLIENT_KEY
from tests.fakes.quirks import CITATIONS, REASONING_FIELD, SEARCH_RESULTS, FakeQuirks

MESSAGES = [{"role": "user", "content": "hi"}]


def yaml_for(url: str, preset: str) -> str:
    # The preset's own base URL is a real vendor: keep its path shape (Perplexity has no
    # /v1), swap the host for the fake's.
    suffix = "/v1" if PRESETS[preset].base_url.endswith("/v1") else ""
    key = "" if PRESETS[preset].local else "    api_key: sk-vendor\n"
    return f"""
providers:
  vendor:
    preset: {preset}
    base_url: {url}/{preset}{suffix}
{key}    headers: {{HTTP-Referer: "https://app.example", X-Title: "My App"}}
models:
  m:
    - {{provider: vendor, model: vendor-model}}
"""


@pytest.fixture
def fake() -> FakeQuirks:
    return FakeQuirks()


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_quirks_pass_through(
    preset: str, fake: FakeQuirks, serve: Callable[..., str], start_proxy: Callable[..., str]
) -> None:
    proxy = start_proxy(yaml_for(serve(fake.app()), preset))
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    plain = httpx.post(
        f"{proxy}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, headers=headers
    )
    assert plain.status_code == 200
    assert plain.content == fake.sent[-1]
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{proxy}/v1/chat/completions", json=body, headers=headers) as r:
        streamed = b"".join(r.iter_bytes())
    assert streamed == fake.sent[-1]
    sent = fake.requests[-1]
    suffix = "/v1" if PRESETS[preset].base_url.endswith("/v1") else ""
    assert sent.path == f"/{preset}{suffix}/chat/completions"
    assert sent.body["model"] == "vendor-model"
    assert sent.headers["http-referer"] == "https://app.example"
    assert sent.headers["x-title"] == "My App"
    assert sent.headers.get("authorization") == (
        None if PRESETS[preset].local else "Bearer sk-vendor"
    )
    _sdk_reads_it(proxy, preset)


def _sdk_reads_it(proxy: str, preset: str) -> None:
    client = openai.OpenAI(base_url=f"{proxy}/v1", api_key=CLIENT_KEY, max_retries=0)
    answer = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == f"Hi from {preset}."
    extra = answer.model_extra or {}
    if preset == "perplexity":
        assert extra["citations"] == CITATIONS and extra["search_results"] == SEARCH_RESULTS
    if preset in REASONING_FIELD:
        message_extra = answer.choices[0].message.model_extra or {}
        assert message_extra[REASONING_FIELD[preset]] == "Thinking it over."
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Hi from {preset}."
    assert any(c.usage is not None and c.usage.total_tokens == 10 for c in chunks)
