"""Named keys on every surface: /v1/messages and /v1/responses go through the same model
access check and the same limits as chat completions (one rpm window across all three)."""

from __future__ import annotations

import httpx

from tests.e2e.test_tenants_e2e import TEAM_KEY, chat, proxy  # noqa: F401  (the fixture)
from tests.fakes.openai import FakeOpenAI


def messages(url: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages",
        json={"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": TEAM_KEY, "anthropic-version": "2023-06-01"},
        timeout=10,
    )


def responses(url: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/responses",
        json={"model": model, "input": "hi"},
        headers={"authorization": f"Bearer {TEAM_KEY}"},
        timeout=10,
    )


def test_a_model_outside_the_keys_list_is_refused_on_every_surface(
    proxy: tuple[str, FakeOpenAI, str],  # noqa: F811
) -> None:
    url, fake, _ = proxy
    refused = messages(url, "other")
    assert refused.status_code == 404, refused.text
    assert refused.json()["type"] == "error"
    assert refused.json()["error"]["type"] == "not_found_error"
    refused = responses(url, "other")
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["code"] == "model_not_found"
    assert fake.requests == [] and fake.raw_bodies == []  # nothing reached the upstream


def test_one_rpm_window_across_chat_messages_and_responses(
    proxy: tuple[str, FakeOpenAI, str],  # noqa: F811
) -> None:
    url, _, _ = proxy  # rpm: 3
    answers = [chat(url, TEAM_KEY), messages(url, "smart"), responses(url, "smart")]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[2].headers["x-ratelimit-remaining-requests"] == "0"
    limited = messages(url, "smart")
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert int(limited.headers["retry-after"]) >= 1
    assert responses(url, "smart").status_code == 429
