"""A named key's in-flight slots and reservations come back on every path: the in-flight
limit itself, a client that disconnects from a non-stream request or mid-stream, an upstream
that fails before or after the stream's commit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.test_tenants_e2e import TEAM_KEY, chat, keys_report, yaml_for
from tests.fakes.openai import FakeOpenAI
from tests.waiting import wait_until

STREAM = {"model": "smart", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"authorization": f"Bearer {TEAM_KEY}"}


@pytest.fixture
def proxy(
    request: pytest.FixtureRequest,
    fake_openai: Callable[..., tuple[FakeOpenAI, str]],
    start_proxy: Callable[..., str],
) -> tuple[str, FakeOpenAI, str]:
    fake, up = fake_openai()
    tag = "rel-" + request.node.name.split("[")[0][-16:].replace("_", "-")
    return start_proxy(yaml_for(up, tag, rpm=100)), fake, f"team-{tag}"


def settled(url: str, name: str) -> bool:
    r = keys_report(url)[name]
    return bool(r["in_flight"] == 0 and r["requests_this_minute"] == 0)


def test_max_in_flight_refuses_then_frees(
    fake_openai: Callable[..., tuple[FakeOpenAI, str]], start_proxy: Callable[..., str]
) -> None:
    fake, up = fake_openai()
    gate = threading.Event()
    fake.gates = [gate]
    url = start_proxy(yaml_for(up, "fly").replace("max_in_flight: 5", "max_in_flight: 1"))
    with (
        ThreadPoolExecutor(1) as pool,
        httpx.stream(
            "POST", f"{url}/v1/chat/completions", json=STREAM, headers=AUTH, timeout=10
        ) as r,
    ):
        assert r.status_code == 200
        second = pool.submit(chat, url, TEAM_KEY).result(10)
        gate.set()
        r.read()
    assert second.status_code == 429
    error = second.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and "1 requests in flight" in error["message"]
    assert int(second.headers["retry-after"]) >= 1
    assert wait_until(lambda: keys_report(url)["team-fly"]["in_flight"] == 0, 5)
    assert chat(url, TEAM_KEY).status_code == 200


def test_disconnect_during_a_non_stream_request_releases(
    proxy: tuple[str, FakeOpenAI, str],
) -> None:
    url, fake, name = proxy
    fake.delay = 3
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{url}/v1/chat/completions",
            json={**STREAM, "stream": False},
            headers=AUTH,
            timeout=0.5,
        )
    assert wait_until(lambda: settled(url, name), 10, step=0.05)


def test_disconnect_mid_stream_releases(proxy: tuple[str, FakeOpenAI, str]) -> None:
    url, fake, name = proxy
    gate = threading.Event()
    fake.gates = [gate]  # the upstream holds the rest of the stream until the gate opens
    try:
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json=STREAM, headers=AUTH, timeout=10
        ) as r:
            assert r.status_code == 200
            next(r.iter_raw())  # the first chunk; then the client goes away
        assert wait_until(lambda: settled(url, name), 8, step=0.05)
    finally:
        gate.set()


@pytest.mark.parametrize("mode", ["truncate", "first_event_error"])
def test_a_failed_stream_releases(proxy: tuple[str, FakeOpenAI, str], mode: str) -> None:
    url, fake, name = proxy
    fake.mode = mode
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json=STREAM, headers=AUTH, timeout=10
    ) as r:
        r.read()
    assert wait_until(lambda: settled(url, name), 10, step=0.05)


def test_tpm_counts_reservations_in_flight(
    fake_openai: Callable[..., tuple[FakeOpenAI, str]], start_proxy: Callable[..., str]
) -> None:
    fake, up = fake_openai()
    gate = threading.Event()
    fake.gates = [gate]
    url = start_proxy(yaml_for(up, "tpm").replace("tpm: 100000", "tpm: 5000"))
    too_large = chat(url, TEAM_KEY, max_tokens=6000)
    assert too_large.status_code == 429
    assert too_large.headers["x-should-retry"] == "false"
    assert "5000 tokens per minute" in too_large.json()["error"]["message"]
    held = {**STREAM, "max_tokens": 3000}
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json=held, headers=AUTH, timeout=10
    ) as r:
        assert r.status_code == 200
        # 3000+ tokens are reserved while the stream runs: another 3000 do not fit.
        second = chat(url, TEAM_KEY, max_tokens=3000)
        gate.set()
        r.read()
    assert second.status_code == 429
    error = second.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and "'team-tpm'" in error["message"]
    assert int(second.headers["retry-after"]) >= 1
    # Reconciled to the actual usage: the same request now fits.
    assert wait_until(lambda: keys_report(url)["team-tpm"]["in_flight"] == 0, 5)
    assert chat(url, TEAM_KEY, max_tokens=3000).status_code == 200
