"""Named keys end to end (memory backend): the real proxy on loopback, the fake OpenAI and
Anthropic upstreams, the openai SDK. Model access, limits and their headers, budgets,
reserve -> reconcile with actual usage (streams included), release on failure, /admin/keys,
metrics and the access log's key, reload."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import httpx
import openai
import orjson
import pytest

from proxy.config import parse_config
from tests.conftest import CLIENT_KEY
from tests.fakes.openai import FakeOpenAI
from tests.metrics_scrape import scrape, value

TEAM_KEY = "team-key-0123456789abcdef"
BROKE_KEY = "broke-key-0123456789abcdef"
OPEN_KEY = "open-key-0123456789abcdef"
ADMIN = {"authorization": "Bearer admin-key-0123456789"}

YAML = """
providers:
  up: {{type: openai, base_url: "{url}/v1", api_key: "sk-upstream-0123456789"}}
models:
  smart:
    - {{provider: up, model: gpt-x, price: {{input_per_mtok: 1000, output_per_mtok: 1000}}}}
  other:
    - {{provider: up, model: gpt-y}}
admin: {{api_key: "admin-key-0123456789"}}
auth:
  api_keys: ["${{PROXY_API_KEY}}"]
  keys:
    - name: team-{tag}
      key: "{team}"
      models: [smart]
      limits: {{rpm: {rpm}, tpm: 100000, max_in_flight: 5}}
    - name: broke-{tag}
      key: "sha256:{broke_digest}"
      budget: {{usd: 0.0001, period: month}}
    - name: open-{tag}
      key: "{open}"
"""


def yaml_for(url: str, tag: str, rpm: int = 3) -> str:
    return YAML.format(
        url=url,
        tag=tag,
        rpm=rpm,
        team=TEAM_KEY,
        open=OPEN_KEY,
        broke_digest=hashlib.sha256(BROKE_KEY.encode()).hexdigest(),
    )


def client(url: str, key: str, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=retries)


def chat(url: str, key: str, model: str = "smart", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(
        f"{url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    )


def keys_report(url: str) -> dict[str, dict[str, Any]]:
    r = httpx.get(f"{url}/admin/keys", headers=ADMIN)
    assert r.status_code == 200, r.text
    return {k["name"]: k for k in r.json()["data"]}


@pytest.fixture
def proxy(
    request: pytest.FixtureRequest,
    fake_openai: Callable[..., tuple[FakeOpenAI, str]],
    start_proxy: Callable[..., str],
) -> tuple[str, FakeOpenAI, str]:
    fake, up = fake_openai()
    tag = request.node.name.split("[")[0][-20:].replace("_", "-")
    return start_proxy(yaml_for(up, tag)), fake, tag


def test_model_outside_the_list_is_404_and_models_are_filtered(
    proxy: tuple[str, FakeOpenAI, str],
) -> None:
    url, fake, _ = proxy
    with pytest.raises(openai.NotFoundError) as caught:
        client(url, TEAM_KEY).chat.completions.create(
            model="other", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "model_not_found"
    assert caught.value.body == {
        "message": "The model 'other' does not exist or you do not have access to it.",
        "type": "not_found_error",
        "param": "model",
        "code": "model_not_found",
    }
    assert fake.hits == 0
    assert [m.id for m in client(url, TEAM_KEY).models.list()] == ["smart"]
    assert sorted(m.id for m in client(url, OPEN_KEY).models.list()) == ["other", "smart"]
    with pytest.raises(openai.NotFoundError):
        client(url, TEAM_KEY).models.retrieve("other")


def test_rpm_limit_answers_openai_429_with_headers(proxy: tuple[str, FakeOpenAI, str]) -> None:
    url, _, tag = proxy
    answers = [chat(url, TEAM_KEY) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0"]
    for a in answers:
        assert a.headers["x-ratelimit-limit-requests"] == "3"
        assert a.headers["x-ratelimit-limit-tokens"] == "100000"
        assert a.headers["x-ratelimit-reset-requests"].endswith("s")
        assert int(a.headers["x-ratelimit-remaining-tokens"]) < 100000
    refused = chat(url, TEAM_KEY)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert f"'team-{tag}'" in error["message"] and "3 requests per minute" in error["message"]
    assert TEAM_KEY not in refused.text
    assert refused.headers["retry-after"].isdigit() and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    # An anonymous key is never limited and gets no such headers.
    plain = chat(url, CLIENT_KEY)
    assert plain.status_code == 200 and "x-ratelimit-limit-requests" not in plain.headers


def test_stream_carries_the_headers_and_its_usage_is_reconciled(
    proxy: tuple[str, FakeOpenAI, str],
) -> None:
    url, fake, tag = proxy
    body = {"model": "smart", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream(
        "POST",
        f"{url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {TEAM_KEY}"},
        timeout=10,
    ) as r:
        assert r.status_code == 200
        assert r.headers["x-ratelimit-remaining-requests"] == "2"
        raw = r.read()
    # The proxy asked the upstream for usage; the client, which did not, sees none of it.
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    chunks = [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]
    assert chunks and all(c["choices"] and "usage" not in c for c in chunks)
    assert raw.endswith(b"data: [DONE]\n\n")
    report = keys_report(url)[f"team-{tag}"]
    # Reconciled: the minute holds the actual usage (5 prompt + 5 completion), not the estimate.
    assert (report["requests_this_minute"], report["tokens_this_minute"]) == (1, 10)
    assert report["in_flight"] == 0


def test_client_that_asked_for_usage_still_gets_it(proxy: tuple[str, FakeOpenAI, str]) -> None:
    url, _, _ = proxy
    stream = client(url, TEAM_KEY).chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 10


def test_budget_is_insufficient_quota_and_the_sdk_does_not_retry_it(
    proxy: tuple[str, FakeOpenAI, str],
) -> None:
    url, fake, tag = proxy
    name = f"broke-{tag}"
    # $0.0001 at $1000/Mtok is 100 tokens: the default max output (4096) cannot be reserved.
    before = scrape(url, ADMIN)
    with pytest.raises(openai.RateLimitError) as caught:
        client(url, BROKE_KEY, retries=3).chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "insufficient_quota"
    assert caught.value.type == "insufficient_quota"
    assert name in caught.value.message and BROKE_KEY not in caught.value.message
    after = scrape(url, ADMIN)
    key_429 = "proxy_key_requests_total"
    sent = value(after, key_429, key=name, model="smart", status="429") - value(
        before, key_429, key=name, model="smart", status="429"
    )
    assert sent == 1  # one request, no retry loop (x-should-retry: false)
    assert value(after, "proxy_limited_total", key=name, limit="budget") >= 1
    assert fake.hits == 0


def test_a_failed_request_gives_its_reservation_back(
    proxy: tuple[str, FakeOpenAI, str],
) -> None:
    url, fake, tag = proxy
    fake.status = 500
    failed = chat(url, TEAM_KEY)
    assert failed.status_code >= 500
    assert failed.headers["x-ratelimit-limit-requests"] == "3"  # on every answer
    report = keys_report(url)[f"team-{tag}"]
    assert (report["requests_this_minute"], report["tokens_this_minute"]) == (0, 0)
    assert report["in_flight"] == 0
    assert report["spend_usd"] == 0


def test_admin_keys_shows_use_and_never_a_key(proxy: tuple[str, FakeOpenAI, str]) -> None:
    url, _, tag = proxy
    assert chat(url, TEAM_KEY).status_code == 200
    r = httpx.get(f"{url}/admin/keys", headers=ADMIN)
    assert r.status_code == 200
    for secret in (TEAM_KEY, BROKE_KEY, OPEN_KEY, hashlib.sha256(BROKE_KEY.encode()).hexdigest()):
        assert secret not in r.text
    team = keys_report(url)[f"team-{tag}"]
    assert team["limits"] == {"rpm": 3, "tpm": 100000, "max_in_flight": 5}
    assert team["requests_this_minute"] == 1
    assert team["tokens_this_minute"] == 12  # the fake's usage: 5 prompt + 7 completion
    assert team["spend_usd"] == pytest.approx(12 * 1000 / 1_000_000)
    assert keys_report(url)[f"broke-{tag}"]["budget"] == {"usd": 0.0001, "period": "month"}
    assert httpx.get(f"{url}/admin/keys").status_code == 401
    assert httpx.get(f"{url}/admin/keys", headers={"authorization": "Bearer x"}).status_code == 401


def test_key_metrics_and_access_log(
    proxy: tuple[str, FakeOpenAI, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, _, tag = proxy
    name = f"team-{tag}"
    with caplog.at_level(logging.INFO, logger="proxy.access"):
        assert chat(url, TEAM_KEY).status_code == 200
        assert chat(url, TEAM_KEY, model="other").status_code == 404
        assert chat(url, CLIENT_KEY).status_code == 200
    m = scrape(url, ADMIN)
    assert value(m, "proxy_key_requests_total", key=name, model="smart", status="200") == 1
    assert value(m, "proxy_key_requests_total", key=name, model="other", status="404") == 1
    assert value(m, "proxy_key_tokens_total", key=name, kind="prompt") == 5
    assert value(m, "proxy_key_tokens_total", key=name, kind="completion") == 7
    assert value(m, "proxy_key_spend_usd_total", key=name) == pytest.approx(0.012)
    assert value(m, "proxy_limited_total", key=name, limit="model") == 1
    assert value(m, "proxy_key_requests_total", key="-", model="smart", status="200") >= 1
    lines = [getattr(r, "fields", {}) for r in caplog.records if r.name == "proxy.access"]
    assert {line.get("key") for line in lines} >= {name, "-"}


def test_reload_keeps_counters_and_drops_a_removed_key(
    fake_openai: Callable[..., tuple[FakeOpenAI, str]], start_proxy: Callable[..., str]
) -> None:
    _, up = fake_openai()
    text = {"yaml": yaml_for(up, "reload")}
    env = {"PROXY_API_KEY": CLIENT_KEY}
    url = start_proxy(text["yaml"], load=lambda: parse_config(text["yaml"], env))
    assert chat(url, TEAM_KEY).status_code == 200
    assert chat(url, OPEN_KEY).status_code == 200
    # The same keys, without the `open-reload` one.
    text["yaml"] = text["yaml"].split("    - name: open-reload")[0]
    r = httpx.post(f"{url}/admin/reload", headers=ADMIN)
    assert r.json()["reloaded"] is True, r.text
    assert chat(url, OPEN_KEY).status_code == 401
    assert keys_report(url)["team-reload"]["requests_this_minute"] == 1
    assert chat(url, TEAM_KEY).headers["x-ratelimit-remaining-requests"] == "1"


def test_translated_stream_usage_is_reconciled_and_not_shown(
    serve: Callable[..., str], start_proxy: Callable[..., str]
) -> None:
    from tests.fakes.anthropic import FakeAnthropic

    fake = FakeAnthropic(api_key="fake-anthropic-key")
    up = serve(fake.app())
    url = start_proxy(
        f"""
providers:
  claude: {{type: anthropic, base_url: "{up}", api_key: "fake-anthropic-key"}}
models:
  smart: [{{provider: claude, model: claude-sonnet-4-5}}]
admin: {{api_key: "admin-key-0123456789"}}
auth:
  keys: [{{name: team-anthropic, key: "{TEAM_KEY}", limits: {{tpm: 100000}}}}]
"""
    )
    asked = list(
        client(url, TEAM_KEY).chat.completions.create(
            model="smart",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = asked[-1].usage
    assert usage is not None and asked[-1].choices == []
    assert keys_report(url)["team-anthropic"]["tokens_this_minute"] == usage.total_tokens
    stream = client(url, TEAM_KEY).chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = list(stream)
    assert chunks and all(c.choices and c.usage is None for c in chunks)
    report = keys_report(url)["team-anthropic"]
    # Reconciled with the upstream's usage, not the estimate (prompt/4 + 4096).
    assert report["tokens_this_minute"] == 2 * usage.total_tokens
    assert report["in_flight"] == 0


def test_embeddings_follow_the_named_key(start_proxy: Callable[..., str]) -> None:
    url = start_proxy(
        f"""
providers:
  mock: {{type: mock}}
models:
  embed:
    kind: embeddings
    deployments: [{{provider: mock, model: e}}]
  chat: [{{provider: mock, model: m}}]
admin: {{api_key: "admin-key-0123456789"}}
auth:
  keys:
    - {{name: emb-team, key: "{TEAM_KEY}", models: [chat], limits: {{rpm: 5}}}}
    - {{name: emb-other, key: "{OPEN_KEY}", limits: {{rpm: 5}}}}
"""
    )
    with pytest.raises(openai.NotFoundError):
        client(url, TEAM_KEY).embeddings.create(model="embed", input=["a"], dimensions=4)
    raw = httpx.post(
        f"{url}/v1/embeddings",
        json={"model": "embed", "input": ["a", "b"], "dimensions": 4},
        headers={"authorization": f"Bearer {OPEN_KEY}"},
    )
    assert raw.status_code == 200
    assert raw.headers["x-ratelimit-remaining-requests"] == "4"
    report = keys_report(url)["emb-other"]
    assert report["requests_this_minute"] == 1 and report["in_flight"] == 0
    assert report["tokens_this_minute"] == raw.json()["usage"]["prompt_tokens"]
