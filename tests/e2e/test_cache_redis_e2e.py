"""The Redis cache backend end to end: two replicas (two `python -m proxy` processes)
share entries through a real redis-server, and a Redis that is down is a miss, never an
error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CLIENT_KEY
from tests.e2e.test_cache_e2e import ADMIN_KEY, chat, post, yaml_for
from tests.fakes.formats import OPENAI
from tests.fakes.scripted import ScriptedUpstream
from tests.redis_server import RedisServer
from tests.servers import ProxyProcess, free_port


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


def redis_yaml(upstream: str, redis_url: str) -> str:
    state = f"state:\n  backend: memory\n  redis_url: {redis_url}\n  timeout_ms: 200\n"
    return yaml_for(upstream, "  backend: redis") + state


def test_two_replicas_share_entries(
    scripted: Callable[..., ScriptedUpstream], redis_server: RedisServer, tmp_path: Path
) -> None:
    fake = scripted(OPENAI)
    path = tmp_path / "providers.yaml"
    path.write_text(redis_yaml(fake.url, redis_server.url))
    replicas = [ProxyProcess(str(path), {}) for _ in range(2)]
    try:
        one, two = (r.wait_ready() for r in replicas)
        first = post(one.url, chat())
        assert first.status_code == 200 and first.headers["x-proxy-cache"] == "miss"
        second = post(two.url, chat(stream=True))
        assert second.headers["x-proxy-cache"] == "hit"
        assert "scripted answer" in second.text and second.text.endswith("data: [DONE]\n\n")
        assert fake.hits == 1
    finally:
        for replica in replicas:
            replica.stop()


def test_redis_down_is_a_miss_not_an_error(
    scripted: Callable[..., ScriptedUpstream], start_proxy: Callable[..., str]
) -> None:
    fake = scripted(OPENAI)
    url = start_proxy(redis_yaml(fake.url, f"redis://127.0.0.1:{free_port()}/0"))
    answers = [post(url, chat()) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.headers["x-proxy-cache"] for a in answers] == ["miss", "miss"]
    assert fake.hits == 2
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    stats = httpx.get(f"{url}/admin/cache", headers=admin).json()
    assert stats["backend"] == "redis" and stats["errors"] >= 2
    assert CLIENT_KEY not in str(stats)
