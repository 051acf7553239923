"""Checklist F1-F2: graceful drain on SIGTERM, and startup/config errors.

These run `python -m proxy` as a subprocess (signals reach only a main thread), with the
built-in mock provider as the upstream; every process started here is ended by its own pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.conftest import CLIENT_KEY
from tests.fakes.formats import OPENAI
from tests.fakes.scripted import Script, ScriptedUpstream
from tests.resilience.harness import AUTH, Gateway, chat_body
from tests.servers import free_port
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
DRAIN = 2.0
LIFECYCLE_CONFIG = f"""
providers:
  streamy: {{type: mock, options: {{chunk_delay_ms: 200, stream_chunks: 100}}}}
  slow: {{type: mock, options: {{latency_ms: 1500}}}}
models:
  stream: [{{provider: streamy, model: s}}]
  slow: [{{provider: slow, model: x}}]
auth:
  api_keys: ["${{PROXY_API_KEY}}"]
server:
  drain_timeout: {DRAIN}
"""
PROMPT = " ".join(f"word{i}" for i in range(100))  # 100 words -> a 100-chunk, 20 s stream


class ProxyProcess(servers.ProxyProcess):
    """tests/servers.py's ProxyProcess started from config text, ready once /health/ready is
    200; stop() kills it (only the process this test started: no drain to wait for)."""

    READY_PATH = "/health/ready"

    def __init__(self, tmp_path: Path, config: str) -> None:
        path = tmp_path / "providers.yaml"
        path.write_text(config)
        self.log = tmp_path / "proxy.log"
        env = {"PROXY_API_KEY": CLIENT_KEY}
        super().__init__(str(path), env, "--log-level", "warning", log_path=self.log)
        self.proc = self.process

    def stop(self, timeout: float = 5) -> int:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout)
        return self.process.returncode


@pytest.fixture
def proxy_process(tmp_path: Path) -> Iterator[Callable[[str], ProxyProcess]]:
    started: list[ProxyProcess] = []

    def start(config: str) -> ProxyProcess:
        process = ProxyProcess(tmp_path, config)
        started.append(process)
        process.wait_ready()
        return process

    yield start
    for process in started:
        process.stop()


def test_f1_sigterm_drains_then_ends_streams_with_gateway_shutdown(
    proxy_process: Callable[[str], ProxyProcess],
    scripted: Callable[..., ScriptedUpstream],
) -> None:
    # One stream from the in-process mock, one from a fake on loopback whose connection
    # must be closed by the proxy when the drain deadline ends the stream.
    fake = scripted(OPENAI, Script(events=OPENAI.transcript(100), event_delay=0.2))
    config = LIFECYCLE_CONFIG.replace(
        "models:",
        f"  remote: {{type: openai, base_url: '{fake.url}/v1', api_key: sk-remote-key-1234}}\n"
        "models:\n  remote: [{provider: remote, model: r}]",
    )
    proxy = proxy_process(config)
    gw = Gateway(proxy.url)
    pool = ThreadPoolExecutor(1)
    try:
        streams = [
            gw.open_stream(model=model, content=PROMPT, timeout=15)
            for model in ("stream", "remote")
        ]
        for stream in streams:
            assert stream.result.status == 200
            assert stream.next_event() is not None
        slow = pool.submit(
            httpx.post,
            f"{proxy.url}/v1/chat/completions",
            content=chat_body(model="slow"),
            headers={**AUTH, "content-type": "application/json"},
            timeout=15,
        )
        # The non-stream request is in flight too (1.5 s upstream latency): three in all.
        assert wait_until(lambda: gw.metrics().value("proxy_in_flight_requests") == 3)
        terminated = time.monotonic()
        proxy.proc.send_signal(signal.SIGTERM)

        # Readiness flips at once.
        assert wait_until(
            lambda: httpx.get(f"{proxy.url}/health/ready", timeout=1).status_code == 503, 1.0
        )
        # New API requests are refused, with Connection: close.
        refused = httpx.post(
            f"{proxy.url}/v1/chat/completions",
            content=chat_body(model="slow"),
            headers={**AUTH, "content-type": "application/json"},
            timeout=5,
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "shutting_down"
        assert refused.headers["connection"].lower() == "close"
        # The non-stream request in flight completes.
        answer = slow.result(timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"].startswith("Mock answer")
        # Streams keep running until the drain deadline, then end with a terminal error event.
        for stream in streams:
            # Read until the drain deadline (+ slack): "deadline" if the stream outlived it.
            result = stream.read_all(within=terminated + DRAIN + 1.5 - stream.sent_at)
            assert result.ended == "eof", "never a bare TCP cut, nor a stream left running"
            assert not result.done_anywhere
            last = result.parsed()[-1]
            assert isinstance(last, dict) and last["error"]["code"] == "gateway_shutdown"
            # Content kept flowing while draining (events that arrived after the SIGTERM).
            during_drain = [t for t in result.times if t > terminated]
            assert len(during_drain) >= 4
            stream.close()
        # The upstream connection of the drained stream was closed, not leaked.
        assert fake.wait_until(lambda: fake.requests[0].outcome == "disconnected", 3)
        # The process exits by the drain deadline + 1 s (with slack for a loaded box).
        proxy.proc.wait(timeout=max(0.1, terminated + DRAIN + 1 + 1.5 - time.monotonic()))
        # uvicorn re-raises the captured SIGTERM once shut down: "killed by SIGTERM" is clean.
        assert proxy.proc.returncode in (0, -signal.SIGTERM), proxy.output()
        assert "Traceback" not in proxy.output()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        gw.close()


# --- F2 -------------------------------------------------------------------------------------


GOOD_TAIL = """
auth:
  api_keys: ["${PROXY_API_KEY}"]
"""


@pytest.mark.parametrize(
    ("config", "mentions"),
    [
        pytest.param("providers: [unclosed\n  models: {", "invalid YAML", id="invalid-yaml"),
        pytest.param(
            "providers:\n  p: {type: opeani, base_url: 'http://127.0.0.1:1/v1'}\n"
            "models:\n  m: [{provider: p, model: x}]\n" + GOOD_TAIL,
            "providers.p.type",
            id="unknown-provider-type",
        ),
        pytest.param(
            "providers:\n  p: {type: mock}\nmodels:\n  m: [{provider: opeani, model: x}]\n"
            + GOOD_TAIL,
            "models.m[0].provider",
            id="unknown-provider-name",
        ),
        pytest.param(
            "providers:\n  p: {type: openai, base_url: 'ftp://example/v1'}\n"
            "models:\n  m: [{provider: p, model: x}]\n" + GOOD_TAIL,
            "providers.p.base_url",
            id="bad-base-url",
        ),
        pytest.param(
            "providers:\n  p: {type: openai, base_url: 'http://169.254.169.254/v1'}\n"
            "models:\n  m: [{provider: p, model: x}]\n" + GOOD_TAIL,
            "providers.p.base_url",
            id="link-local-base-url",
        ),
    ],
)
def test_f2_bad_config_exits_2_with_one_clear_line(
    tmp_path: Path, config: str, mentions: str
) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(config)
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "--config", str(path), "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PROXY_API_KEY": CLIENT_KEY},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert mentions in lines[0]
    assert "Traceback" not in done.stderr


def test_f2_one_provider_down_at_startup_does_not_block_readiness(
    fake_openai: Callable[..., tuple[object, str]], gateway: Callable[..., Gateway]
) -> None:
    _, url = fake_openai(content="from secondary")
    gw = gateway(
        {
            "primary": {
                "type": "openai",
                "base_url": f"http://127.0.0.1:{free_port()}/v1",
                "api_key": "sk-down",
            },
            "secondary": OPENAI.provider(url),
        }
    )
    assert gw.get("/health/ready").status_code == 200
    response = gw.chat()
    assert response.status_code == 200
    assert response.headers["x-proxy-provider"] == "secondary"
    assert gw.get("/health/ready").status_code == 200
