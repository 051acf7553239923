"""Fallback on /v1/responses, shared with chat: a passthrough deployment failing before the
commit falls back to a translated one (stream and non-stream), and server-side state
(`previous_response_id`, `store: true`) goes only to passthrough deployments, the others
skipped as `skipped_incompatible`. The request is counted in the same metrics as chat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI
from tests.metrics_scrape import scrape, value
from tests.waiting import wait_until

HEADERS = {"authorization": f"Bearer {CLIENT_KEY}"}


@dataclass
class Pair:
    url: str
    gpt: FakeOpenAI
    claude: FakeAnthropic

    def post(self, model: str, **body: Any) -> httpx.Response:
        body = {"model": model, "input": "Hello", **body}
        return httpx.post(f"{self.url}/v1/responses", json=body, headers=HEADERS, timeout=10)


@pytest.fixture
def pair(serve: Callable[..., str], start_proxy: Callable[..., str]) -> Pair:
    gpt, claude = FakeOpenAI(), FakeAnthropic(api_key="ak")
    gpt_url, claude_url = serve(gpt.app()), serve(claude.app())
    yaml = f"""
providers:
  openai: {{type: openai, base_url: "{gpt_url}/v1", api_key: "ok"}}
  anthropic: {{type: anthropic, base_url: "{claude_url}", api_key: "ak"}}
models:
  gpt_first:
    - {{provider: openai, model: gpt-5}}
    - {{provider: anthropic, model: claude-sonnet-4-5}}
  claude_first:
    - {{provider: anthropic, model: claude-sonnet-4-5}}
    - {{provider: openai, model: gpt-5}}
"""
    return Pair(start_proxy(yaml), gpt, claude)


@pytest.mark.parametrize("stream", [False, True])
def test_passthrough_failure_before_the_commit_falls_back_to_translation(
    pair: Pair, stream: bool
) -> None:
    if stream:
        pair.gpt.mode = "first_event_error"
    else:
        pair.gpt.status = 500
    before = _fallbacks(pair.url)
    answer = pair.post("gpt_first", stream=stream)
    assert answer.status_code == 200
    assert answer.headers["x-proxy-provider"] == "anthropic"
    assert (pair.gpt.hits, len(pair.claude.requests)) == (1, 1)
    if stream:
        assert answer.text.rstrip().splitlines()[-2] == "event: response.completed"
    else:
        assert answer.json()["status"] == "completed"
    assert wait_until(lambda: _fallbacks(pair.url) == before + 1)


def _fallbacks(url: str) -> float:
    """Fallbacks from openai on gpt_first, whatever the reason (metrics are per process)."""
    wanted = {("model", "gpt_first"), ("from_provider", "openai")}
    return sum(
        count
        for (name, labels), count in scrape(url).items()
        if name == "proxy_fallbacks_total" and wanted <= labels
    )


@pytest.mark.parametrize(
    "state", [{"previous_response_id": "resp_1"}, {"store": True}], ids=["previous", "store"]
)
@pytest.mark.parametrize("stream", [False, True])
def test_server_side_state_goes_only_to_passthrough(
    pair: Pair, state: dict[str, Any], stream: bool
) -> None:
    answer = pair.post("claude_first", stream=stream, **state)
    assert answer.status_code == 200
    assert answer.headers["x-proxy-provider"] == "openai"
    assert pair.claude.requests == []
    sent = pair.gpt.requests[-1].body
    assert all(sent[key] == state[key] for key in state)


def test_requests_are_counted_like_chat(pair: Pair) -> None:
    labels = {"model": "claude_first", "provider": "anthropic", "status": "200"}
    before = value(scrape(pair.url), "proxy_requests_total", **labels)
    assert pair.post("claude_first").status_code == 200
    # The account is written after the last byte: wait for it.
    assert wait_until(
        lambda: value(scrape(pair.url), "proxy_requests_total", **labels) == before + 1
    )
