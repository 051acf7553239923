"""Issue 16 item 8: with the default bounds, `python -m proxy` stays inside the sidecar's
memory limit under a bounded concurrent load of the bodies that cost the most to hold:
the largest allowed bodies made of tiny JSON messages (parsed, ~10x their size) and of
prose. Peak RSS of the real process (VmHWM) is compared with the manifest's limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from tests.fakes.openai import FakeOpenAI
from tests.servers import ProxyProcess

DEPLOY = Path(__file__).parents[2] / "deploy" / "kubernetes"
CLIENT_KEY = "client-secret-key-mem-1"
_UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}


def sidecar_memory_limit() -> int:
    for doc in yaml.safe_load_all((DEPLOY / "sidecar.yaml").read_text()):
        if doc and doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            for container in pod.get("initContainers", []) + pod["containers"]:
                if "llm-proxy" in container["image"]:
                    text = container["resources"]["limits"]["memory"]
                    return int(text[:-2]) * _UNITS[text[-2:]]
    raise AssertionError("no llm-proxy container in sidecar.yaml")


def tiny_messages(size: int) -> bytes:
    message = {"role": "user", "content": "a"}
    count = size // len(orjson.dumps(message))
    return orjson.dumps({"model": "gpt", "messages": [message] * count})


def prose(size: int) -> bytes:
    text = "Plain words without much punctuation in them at all " * (size // 52)
    return orjson.dumps({"model": "gpt", "messages": [{"role": "user", "content": text}]})


@pytest.fixture
def proxy(tmp_path: Path, serve: Callable[..., str]) -> Iterator[ProxyProcess]:
    fake = FakeOpenAI(delay=0.5)  # answers overlap: bodies are held together
    fake.requests = _Forgetful()
    url = serve(fake.app())
    config = tmp_path / "providers.yaml"
    config.write_text(
        f"""
providers:
  up: {{type: openai, base_url: "{url}/v1", api_key: "sk-mem"}}
models:
  gpt: [{{provider: up, model: up-model}}]
auth: {{api_keys: ["{CLIENT_KEY}"]}}
"""
    )  # no `server:` section: the defaults are under test
    process = ProxyProcess(str(config), {}).wait_ready()
    yield process
    process.stop()


class _Forgetful(list):  # type: ignore[type-arg]
    """The fake's request log, kept empty: 9.6 MB bodies need not pile up in the test."""

    def append(self, item: object) -> None:
        pass


def _post(url: str, body: bytes) -> int:
    headers = {"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"}
    with httpx.Client(timeout=60) as client:
        try:
            return client.post(
                f"{url}/v1/chat/completions", content=body, headers=headers
            ).status_code
        except httpx.TransportError:
            return 0  # refused mid-upload: counted as not served


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_default_bounds_keep_the_proxy_inside_the_sidecar_limit(proxy: ProxyProcess) -> None:
    limit = sidecar_memory_limit()
    bodies = [tiny_messages(9_600_000)] * 4 + [tiny_messages(2_400_000)] * 6
    bodies += [prose(9_600_000)] * 4
    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(lambda body: _post(proxy.url, body), bodies))
    peak = _peak_rss(proxy.process.pid)
    assert peak < limit, f"peak RSS {peak >> 20} MiB over the sidecar's {limit >> 20} MiB"
    assert set(statuses) <= {200, 413, 503, 0}, statuses
    assert 200 in statuses  # bounded, not shut
    # Once the load is gone, everything held was released: a big prose body goes through.
    assert _post(proxy.url, prose(9_600_000)) == 200
