"""Scripted traffic against the real app, then exact /metrics changes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.openai import FakeOpenAI
from tests.metrics_scrape import delta, scrape, value
from tests.waiting import wait_until

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
MESSAGES = [{"role": "user", "content": "hi"}]


class Setup:
    def __init__(
        self, serve: Callable[..., str], start_proxy: Callable[..., str], tag: str
    ) -> None:
        self.primary, self.secondary = FakeOpenAI(content="p"), FakeOpenAI(content="s")
        # Unique names per test: the registry is process-wide, so tests compare deltas of
        # their own series only.
        self.p, self.s, self.model = f"pri_{tag}", f"sec_{tag}", f"m_{tag}"
        yaml_text = f"""
providers:
  {self.p}: {{type: openai, base_url: "{serve(self.primary.app())}/v1", breaker: {{fail_max: 2, reset_timeout: 60}}}}
  {self.s}: {{type: openai, base_url: "{serve(self.secondary.app())}/v1"}}
models:
  {self.model}:
    - {{provider: {self.p}, model: up-p, price: {{input_per_mtok: 2, output_per_mtok: 10}}}}
    - {{provider: {self.s}, model: up-s}}
"""
        self.url = start_proxy(yaml_text)

    def chat(self, **extra: object) -> httpx.Response:
        body = {"model": self.model, "messages": MESSAGES, **extra}
        return httpx.post(f"{self.url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)


@pytest.fixture
def setup(
    request: pytest.FixtureRequest, serve: Callable[..., str], start_proxy: Callable[..., str]
) -> Setup:
    return Setup(serve, start_proxy, request.node.name.replace("test_", "")[:20])


def test_success_counts_request_tokens_cost_and_latency(setup: Setup) -> None:
    before = scrape(setup.url)
    assert setup.chat().status_code == 200
    after = scrape(setup.url)
    m, p = setup.model, setup.p
    assert delta(before, after, "proxy_requests_total", model=m, provider=p, status="200") == 1
    assert delta(before, after, "proxy_tokens_total", model=m, provider=p, kind="prompt") == 5
    assert delta(before, after, "proxy_tokens_total", model=m, provider=p, kind="completion") == 7
    assert delta(before, after, "proxy_cost_usd_total", model=m, provider=p) == pytest.approx(
        (5 * 2 + 7 * 10) / 1e6
    )
    assert delta(before, after, "proxy_upstream_attempts_total", provider=p, outcome="ok") == 1
    assert delta(before, after, "proxy_request_duration_seconds_count", model=m) == 1
    assert delta(before, after, "proxy_upstream_duration_seconds_count", provider=p) == 1
    assert delta(before, after, "proxy_overhead_seconds_count") == 1
    assert value(after, "proxy_in_flight_requests") == 0


def test_fallback_and_breaker_trip(setup: Setup) -> None:
    setup.primary.status = 500
    before = scrape(setup.url)
    for _ in range(3):
        assert setup.chat().status_code == 200
    after = scrape(setup.url)
    m, p, s = setup.model, setup.p, setup.s
    # Two failures trip the breaker (fail_max 2); the third request skips the primary.
    assert setup.primary.hits == 2
    assert (
        delta(
            before, after, "proxy_fallbacks_total", model=m, from_provider=p, reason="server_error"
        )
        == 2
    )
    assert (
        delta(before, after, "proxy_upstream_errors_total", provider=p, error_type="server_error")
        == 2
    )
    assert delta(before, after, "proxy_requests_total", model=m, provider=s, status="200") == 3
    assert value(after, "proxy_breaker_state", provider=p) == 2
    assert delta(before, after, "proxy_breaker_transitions_total", provider=p, state="open") == 1
    assert value(after, "proxy_breaker_state", provider=s) == 0


def test_stream_with_usage_counts_tokens_and_ttft(setup: Setup) -> None:
    before = scrape(setup.url)
    response = setup.chat(stream=True, stream_options={"include_usage": True})
    assert response.text.endswith("data: [DONE]\n\n")
    after = scrape(setup.url)
    m, p = setup.model, setup.p
    assert delta(before, after, "proxy_requests_total", model=m, provider=p, status="200") == 1
    assert delta(before, after, "proxy_tokens_total", model=m, provider=p, kind="completion") == 5
    assert delta(before, after, "proxy_time_to_first_token_seconds_count", model=m, provider=p) == 1


def test_client_disconnect_is_counted(setup: Setup) -> None:
    setup.primary.chunks, setup.primary.chunk_delay = 50, 0.1
    before = scrape(setup.url)
    body = {"model": setup.model, "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{setup.url}/v1/chat/completions", json=body, headers=AUTH) as r:
        for line in r.iter_lines():
            if "w1" in line:
                break
    assert wait_until(
        lambda: (
            delta(before, scrape(setup.url), "proxy_client_disconnects_total", model=setup.model)
            == 1
        )
    )
    after = scrape(setup.url)
    assert (
        delta(before, after, "proxy_breaker_transitions_total", provider=setup.p, state="open") == 0
    )
    assert value(after, "proxy_in_flight_requests") == 0


def test_unknown_model_is_labelled_other(setup: Setup) -> None:
    before = scrape(setup.url)
    assert setup.chat(model="no-such-model-\r\nx").status_code == 404
    after = scrape(setup.url)
    assert (
        delta(before, after, "proxy_requests_total", model="other", provider="none", status="404")
        == 1
    )
    assert all("no-such-model" not in str(labels) for (_, labels) in after)
