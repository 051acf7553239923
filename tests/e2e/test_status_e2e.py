"""Black box: `python -m proxy` as a process, one fake upstream answering 500 (its breaker
opens) and one answering 429 with Retry-After (it cools down); then GET /admin/status and
`python -m proxy status` show both, and neither shows a key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.resilience.formats import OPENAI
from tests.resilience.scripted import Script, ScriptedUpstream
from tests.servers import ProxyProcess

CLIENT_KEY = "client-status-e2e-key-1111"
PROVIDER_KEY = "sk-provider-status-e2e-2222"
ADMIN_KEY = "admin-status-e2e-key-3333"
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def upstreams() -> Iterator[tuple[ScriptedUpstream, ScriptedUpstream]]:
    failing = ScriptedUpstream(OPENAI, Script(status=500)).start()
    limited = ScriptedUpstream(OPENAI, Script(status=429, headers={"retry-after": "120"})).start()
    yield failing, limited
    failing.stop()
    limited.stop()


@pytest.fixture
def proxy(
    tmp_path: Path, upstreams: tuple[ScriptedUpstream, ScriptedUpstream]
) -> Iterator[ProxyProcess]:
    failing, limited = upstreams
    path = tmp_path / "providers.yaml"
    path.write_text(
        f"""
providers:
  sick: {{type: openai, base_url: "{failing.url}/v1", api_key: "${{PROVIDER_KEY}}",
          breaker: {{fail_max: 2, reset_timeout: 300}}}}
  busy: {{type: openai, base_url: "{limited.url}/v1", api_key: "${{PROVIDER_KEY}}"}}
models:
  gpt: [{{provider: sick, model: sick-model}}, {{provider: busy, model: busy-model}}]
auth: {{api_keys: ["${{CLIENT_KEY}}"]}}
admin: {{api_key: "${{ADMIN_KEY}}"}}
"""
    )
    env = {"CLIENT_KEY": CLIENT_KEY, "PROVIDER_KEY": PROVIDER_KEY, "ADMIN_KEY": ADMIN_KEY}
    process = ProxyProcess(str(path), env, "--log-format", "text").wait_ready()
    yield process
    process.stop()


def _chat(url: str) -> httpx.Response:
    body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)


def test_status_with_an_open_breaker_and_a_cooldown(
    proxy: ProxyProcess, upstreams: tuple[ScriptedUpstream, ScriptedUpstream]
) -> None:
    failing, limited = upstreams
    # 1st: sick 500, busy 429 (cooldown 120 s). 2nd: sick 500 (breaker opens), busy skipped.
    assert _chat(proxy.url).status_code == 502  # not all rate limited: a gateway error
    assert _chat(proxy.url).status_code == 502
    assert (failing.hits, limited.hits) == (2, 1)

    response = httpx.get(f"{proxy.url}/admin/status", headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    for secret in (CLIENT_KEY, PROVIDER_KEY, ADMIN_KEY):
        assert secret not in response.text
    status = response.json()
    assert status["worker"]["pid"] == proxy.process.pid  # one worker: the process itself
    assert status["in_flight_requests"] == 0  # API requests only; both are done
    sick, busy = status["providers"]["sick"], status["providers"]["busy"]
    assert sick["breaker"]["state"] == "open"
    assert 0 < sick["breaker"]["open_seconds_left"] <= 300
    assert sick["last_error"]["outcome"] == "server_error"
    assert sick["usable"] is False and sick["in_flight_attempts"] == 0
    assert busy["breaker"]["state"] == "closed"
    assert 0 < busy["cooldown"]["seconds_left"] <= 120
    assert "Retry-After 120s" in busy["cooldown"]["reason"]
    assert busy["last_error"]["outcome"] == "rate_limited"
    assert busy["usable"] is False
    assert busy["pool"]["in_use"] == 0  # every upstream response was closed
    assert [d["usable"] for d in status["models"]["gpt"]] == [False, False]
    since = datetime.fromisoformat(sick["breaker"]["since"].replace("Z", "+00:00"))
    assert since.tzinfo == UTC

    env = {**os.environ, "PROXY_ADMIN_KEY": ADMIN_KEY}
    cli = subprocess.run(
        [sys.executable, "-m", "proxy", "status", "--url", proxy.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode == 0, cli.stderr
    assert ADMIN_KEY not in cli.stdout + cli.stderr
    rows = {line.split()[0]: line for line in cli.stdout.splitlines() if line.strip()}
    assert "open for" in rows["sick"] and "server_error" in rows["sick"]
    assert "Retry-After 120s" in rows["busy"] and "rate_limited" in rows["busy"]
    assert rows["gpt"].endswith("sick/sick-model (down) > busy/busy-model (down)")


def test_status_command_against_a_refusing_proxy(proxy: ProxyProcess) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROXY_ADMIN_KEY"}
    cli = subprocess.run(
        [sys.executable, "-m", "proxy", "status", "--url", proxy.url, "--admin-key", "nope-nope-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode == 1
    assert cli.stdout == "" and cli.stderr.count("\n") == 1 and "401" in cli.stderr


def test_status_says_which_worker_answered(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        """
providers:
  local: {type: mock}
models:
  m: [{provider: local, model: x}]
auth: {disabled: true}
admin: {api_key: "${ADMIN_KEY}"}
"""
    )
    process = ProxyProcess(str(path), {"ADMIN_KEY": ADMIN_KEY}, "--workers", "2").wait_ready()
    try:
        status = httpx.get(f"{process.url}/admin/status", headers=ADMIN, timeout=10).json()
    finally:
        process.stop()
    assert status["worker"]["workers"] == 2
    assert status["worker"]["pid"] != process.process.pid  # a worker, not the supervisor
