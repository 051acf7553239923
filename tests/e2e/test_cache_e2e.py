"""The response cache end to end: the real proxy on 127.0.0.1 in front of a scripted fake
OpenAI upstream that counts its calls, driven by httpx and the official openai SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import CLIENT_KEY
from tests.fakes.formats import OPENAI
from tests.fakes.scripted import Script, ScriptedUpstream
from tests.metrics_scrape import scrape, value

OTHER_KEY = "second-client-key-9876543210"
ADMIN_KEY = "admin-key-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def yaml_for(url: str, cache: str = "", keys: str = "") -> str:
    provider = orjson.dumps(OPENAI.provider(url)).decode()
    keys = keys or f'["{CLIENT_KEY}", "{OTHER_KEY}"]'
    return f"""
providers:
  up: {provider}
models:
  demo:
    - {{provider: up, model: up-1, price: {{input_per_mtok: 1000000, output_per_mtok: 2000000}}}}
  plain:
    - {{provider: up, model: up-1}}
auth:
  api_keys: {keys}
admin:
  api_key: {ADMIN_KEY}
cache:
  models: [demo]
{cache}
"""


@pytest.fixture
def fake(scripted: Callable[..., ScriptedUpstream]) -> ScriptedUpstream:
    return scripted(OPENAI)


@pytest.fixture
def proxy(fake: ScriptedUpstream, start_proxy: Callable[..., str]) -> str:
    return start_proxy(yaml_for(fake.url))


def post(url: str, body: dict[str, Any], key: str = CLIENT_KEY, **headers: str) -> httpx.Response:
    head = {"authorization": f"Bearer {key}", **headers}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=head, timeout=10)


def chat(model: str = "demo", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, **extra}


def sse_chunks(text: str) -> list[Any]:
    datas = [ln[6:] for ln in text.split("\n") if ln.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    return [orjson.loads(d) for d in datas[:-1]]


def stream_text(chunks: list[Any]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_second_identical_request_is_a_hit_with_fresh_id(
    proxy: str, fake: ScriptedUpstream
) -> None:
    first, second = post(proxy, chat()), post(proxy, chat())
    assert (first.headers["x-proxy-cache"], second.headers["x-proxy-cache"]) == ("miss", "hit")
    assert "age" in second.headers and int(second.headers["age"]) >= 0
    assert fake.hits == 1
    a, b = first.json(), second.json()
    assert b["choices"] == a["choices"] and b["usage"] == a["usage"]
    assert b["id"] != a["id"] and b["id"].startswith("chatcmpl-")


def test_model_without_caching_has_no_cache_header(proxy: str, fake: ScriptedUpstream) -> None:
    first, second = post(proxy, chat("plain")), post(proxy, chat("plain"))
    assert "x-proxy-cache" not in first.headers and "x-proxy-cache" not in second.headers
    assert fake.hits == 2


def test_key_a_answer_never_served_to_key_b(proxy: str, fake: ScriptedUpstream) -> None:
    post(proxy, chat())
    other = post(proxy, chat(), key=OTHER_KEY)
    assert other.headers["x-proxy-cache"] == "miss"
    assert fake.hits == 2
    assert post(proxy, chat(), key=OTHER_KEY).headers["x-proxy-cache"] == "hit"


def test_global_scope_shares_across_keys(
    fake: ScriptedUpstream, start_proxy: Callable[..., str]
) -> None:
    url = start_proxy(yaml_for(fake.url, "  scope: global"))
    post(url, chat())
    assert post(url, chat(), key=OTHER_KEY).headers["x-proxy-cache"] == "hit"
    assert fake.hits == 1


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (chat(temperature=0.5), "miss"),  # a field that changes the answer
        (chat(user="someone-else"), "hit"),  # user is excluded from the key
        (chat(stream=False), "hit"),
        ({**chat(), "messages": [{"role": "user", "content": "Other question"}]}, "miss"),
    ],
)
def test_key_fields(
    proxy: str, fake: ScriptedUpstream, second: dict[str, Any], expected: str
) -> None:
    post(proxy, chat())
    assert post(proxy, second).headers["x-proxy-cache"] == expected


def test_stream_after_non_stream_gets_a_chunk_sequence(proxy: str, fake: ScriptedUpstream) -> None:
    whole = post(proxy, chat()).json()
    client = openai.OpenAI(base_url=f"{proxy}/v1", api_key=CLIENT_KEY, max_retries=0)
    with client.chat.completions.with_streaming_response.create(
        model="demo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers["x-proxy-cache"] == "hit"
        chunks = list(response.parse())
    assert fake.hits == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole["choices"][0]["message"]["content"]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5
    assert chunks[0].id != whole["id"]


def test_stream_without_include_usage_has_no_usage_chunk(proxy: str) -> None:
    post(proxy, chat())
    chunks = sse_chunks(post(proxy, chat(stream=True)).text)
    assert all(c["choices"] for c in chunks)


def test_non_stream_after_stream_gets_the_assembled_completion(
    proxy: str, fake: ScriptedUpstream
) -> None:
    streamed = post(proxy, chat(stream=True))
    assert streamed.headers["x-proxy-cache"] == "miss"
    expected = stream_text(sse_chunks(streamed.text))
    client = openai.OpenAI(base_url=f"{proxy}/v1", api_key=CLIENT_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="demo", messages=MESSAGES)
    assert raw.headers["x-proxy-cache"] == "hit"
    answer = raw.parse()
    assert answer.choices[0].message.content == expected
    assert answer.choices[0].finish_reason == "stop"
    assert answer.object == "chat.completion"
    assert fake.hits == 1


def test_request_controls(proxy: str, fake: ScriptedUpstream) -> None:
    assert post(proxy, chat(), **{"cache-control": "no-store"}).headers["x-proxy-cache"] == "bypass"
    assert post(proxy, chat()).headers["x-proxy-cache"] == "miss"  # no-store stored nothing
    assert post(proxy, chat(), **{"cache-control": "no-cache"}).headers["x-proxy-cache"] == "bypass"
    assert post(proxy, chat()).headers["x-proxy-cache"] == "hit"
    assert fake.hits == 3
    ttl0 = chat(temperature=1.0)
    assert post(proxy, ttl0, **{"x-proxy-cache-ttl": "0"}).headers["x-proxy-cache"] == "miss"
    assert post(proxy, ttl0).headers["x-proxy-cache"] == "miss"  # ttl 0: not stored
    bad = post(proxy, chat(), **{"x-proxy-cache-ttl": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cache_ttl"


def _content_filter(fake: ScriptedUpstream) -> None:
    body = orjson.loads(OPENAI.answer())
    body["choices"][0]["finish_reason"] = "content_filter"
    fake.script = Script(body=orjson.dumps(body))


def _upstream_error(fake: ScriptedUpstream) -> None:
    fake.script = Script(status=400)


def _cut_stream(fake: ScriptedUpstream) -> None:
    fake.script = Script(close_after=3)


def _error_in_stream(fake: ScriptedUpstream) -> None:
    events = OPENAI.transcript()
    fake.script = Script(events=[*events[:3], OPENAI.first_error_event()])


@pytest.mark.parametrize(
    ("spoil", "stream"),
    [
        (_content_filter, False),
        (_upstream_error, False),
        (_cut_stream, True),
        (_error_in_stream, True),
    ],
)
def test_never_stored(
    proxy: str, fake: ScriptedUpstream, spoil: Callable[[ScriptedUpstream], None], stream: bool
) -> None:
    spoil(fake)
    post(proxy, chat(stream=stream))
    fake.script = Script()
    assert post(proxy, chat()).headers["x-proxy-cache"] == "miss"
    assert fake.hits == 2


def test_admin_cache_stats_and_clear(proxy: str, fake: ScriptedUpstream) -> None:
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    post(proxy, chat())
    post(proxy, chat())
    stats = httpx.get(f"{proxy}/admin/cache", headers=admin).json()
    assert stats["entries"] == 1 and stats["bytes"] > 0
    assert (stats["hits"], stats["misses"], stats["coalesced"]) == (1, 1, 0)
    assert httpx.get(f"{proxy}/admin/cache").status_code == 401
    other = httpx.delete(f"{proxy}/admin/cache?model=plain", headers=admin).json()
    assert other["cleared"] == 0
    cleared = httpx.delete(f"{proxy}/admin/cache?model=demo", headers=admin).json()
    assert cleared["cleared"] == 1
    assert post(proxy, chat()).headers["x-proxy-cache"] == "miss"
    assert httpx.delete(f"{proxy}/admin/cache", headers=admin).json()["cleared"] == 1


def test_metrics(proxy: str, fake: ScriptedUpstream) -> None:
    post(proxy, chat())
    post(proxy, chat())
    samples = scrape(proxy, {"authorization": f"Bearer {ADMIN_KEY}"})
    assert value(samples, "proxy_cache_requests_total", model="demo", result="hit") >= 1
    assert value(samples, "proxy_cache_requests_total", model="demo", result="miss") >= 1
    assert value(samples, "proxy_cache_bytes") > 0
    # The scripted answer's usage (3 prompt, 2 completion) at $1 and $2 per token.
    assert value(samples, "proxy_cache_saved_usd_total", model="demo") >= 7.0


def test_reload_keeps_entries_and_a_removed_key_reads_nothing(
    fake: ScriptedUpstream, start_proxy: Callable[..., str]
) -> None:
    from proxy.config import parse_config

    after = yaml_for(fake.url, keys=f'["{CLIENT_KEY}"]')  # OTHER_KEY removed
    url = start_proxy(yaml_for(fake.url), load=lambda: parse_config(after, {}))
    post(url, chat())
    post(url, chat(), key=OTHER_KEY)
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    assert httpx.post(f"{url}/admin/reload", headers=admin).json()["reloaded"] is True
    assert post(url, chat()).headers["x-proxy-cache"] == "hit"  # the store outlived the reload
    assert post(url, chat(), key=OTHER_KEY).status_code == 401
    assert fake.hits == 2


def test_an_answer_over_max_entry_bytes_is_served_not_stored(
    fake: ScriptedUpstream, start_proxy: Callable[..., str]
) -> None:
    url = start_proxy(yaml_for(fake.url, "  max_entry_bytes: 64"))
    first, second = post(url, chat()), post(url, chat())
    assert first.status_code == 200 and first.json()["choices"][0]["message"]["content"]
    assert second.headers["x-proxy-cache"] == "miss"
    assert fake.hits == 2
