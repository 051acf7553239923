"""A request an adapter refuses to translate (a 400 naming the field: `n` > 1 to Anthropic,
token arrays to Gemini embeddings) is the caller's error: no upstream attempt was made, so
no attempt is counted (it used to be counted as a `client_disconnect`), and no provider
is blamed."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.metrics_scrape import delta, scrape


@pytest.fixture
def proxy_url(serve: Callable[..., str], start_proxy: Callable[..., str]) -> str:
    url = serve(FakeAnthropic().app())
    return start_proxy(
        f"""
providers:
  claude: {{type: anthropic, base_url: "{url}", api_key: k-anthropic}}
models:
  smart:
    - {{provider: claude, model: claude-sonnet-4-5}}
"""
    )


def test_untranslatable_request_is_not_an_attempt(proxy_url: str) -> None:
    before = scrape(proxy_url)
    response = httpx.post(
        f"{proxy_url}/v1/chat/completions",
        json={"model": "smart", "messages": [{"role": "user", "content": "hi"}], "n": 2},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"
    after = scrape(proxy_url)
    for outcome in ("client_disconnect", "ok"):
        counted = delta(
            before, after, "proxy_upstream_attempts_total", provider="claude", outcome=outcome
        )
        assert counted == 0, outcome
    assert delta(before, after, "proxy_client_disconnects_total", model="smart") == 0
