"""Drain bounds non-stream requests too (issue 10, item 5): one still waiting on its
upstream at the drain deadline gets an OpenAI-shaped 503 `gateway_shutdown`, not a cut.

`python -m proxy` as a subprocess (signals reach only a main thread), ended by its own pid.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.resilience.harness import AUTH, chat_body, wait_for
from tests.resilience.test_f_lifecycle import ProxyProcess

CONFIG = """
providers:
  stuck: {type: mock, options: {latency_ms: 60000}}
models:
  stuck: [{provider: stuck, model: x}]
auth:
  api_keys: ["${PROXY_API_KEY}"]
server:
  drain_timeout: 1
"""


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    process = ProxyProcess(tmp_path, CONFIG)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _in_flight(url: str) -> Callable[[], bool]:
    def check() -> bool:
        text = httpx.get(f"{url}/metrics", timeout=2).text
        return "proxy_in_flight_requests 1.0" in text

    return check


def test_a_non_stream_request_at_the_drain_deadline_gets_gateway_shutdown(
    proxy: ProxyProcess,
) -> None:
    pool = ThreadPoolExecutor(1)
    try:
        pending = pool.submit(
            httpx.post,
            f"{proxy.url}/v1/chat/completions",
            content=chat_body(model="stuck"),
            headers={**AUTH, "content-type": "application/json"},
            timeout=30,
        )
        assert wait_for(_in_flight(proxy.url), 10, step=0.05)
        proxy.proc.send_signal(signal.SIGTERM)
        answer = pending.result(timeout=30)
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "gateway_shutdown" and error["type"] == "service_unavailable"
        proxy.proc.wait(timeout=15)
        assert "Traceback" not in proxy.log.read_text()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
