"""The system under test: the fake upstream on the client core, the proxy on its own core."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procs

CLIENT_KEY = "bench-client-key-not-a-secret"
UPSTREAM_KEY = "bench-upstream-key-not-a-secret"
CHAT_PATH = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
RESPONSES_PATH = "/v1/responses"
READY_TIMEOUT = 30.0
IDLE_SETTLE = 0.5  # seconds between ready and the idle RSS reading

CONFIG_TEMPLATE = """\
providers:
  up: {{type: openai, base_url: "http://127.0.0.1:{port}/v1", api_key: "${{UP_KEY}}"{pool}}}
  claude: {{type: anthropic, base_url: "http://127.0.0.1:{port}", api_key: "${{UP_KEY}}"{pool}}}
models:
  gpt: [{{provider: up, model: gpt-upstream}}]
  gpt-cached: [{{provider: up, model: gpt-upstream}}]  # cached only in --scenario cache
  claude: [{{provider: claude, model: claude-upstream}}]
auth:
  api_keys: ["${{PROXY_API_KEY}}"]
"""


@dataclass(frozen=True)
class Upstream:
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CHAT_PATH}"


@dataclass(frozen=True)
class Proxy:
    port: int
    pid: int
    ready_seconds: float
    idle_rss_mb: float
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CHAT_PATH}"

    @property
    def messages_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{MESSAGES_PATH}"

    @property
    def responses_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{RESPONSES_PATH}"


def start_upstream(
    stack: contextlib.ExitStack,
    workdir: Path,
    chunks: int,
    chunk_delay_ms: float,
    latency_ms: float = 0.0,
) -> Upstream:
    port = procs.free_port()
    args = ["--port", str(port), "--chunks", str(chunks), "--chunk-delay-ms", str(chunk_delay_ms)]
    args += ["--latency-ms", str(latency_ms)]
    cmd = procs.python_module("bench.upstream", *args)
    proc = stack.enter_context(
        procs.running(procs.spawn(cmd, procs.CLIENT_CORE, workdir / "up.log"))
    )
    procs.wait_ready(proc, port, "/health", READY_TIMEOUT)
    return Upstream(port, proc.pid)


def write_config(
    workdir: Path, upstream_port: int, extra: str = "", max_connections: int | None = None
) -> Path:
    """The proxy's config; `max_connections` None keeps the default pool (max_in_flight)."""
    path = workdir / "bench-proxy.yaml"
    pool = f", max_connections: {max_connections}" if max_connections else ""
    path.write_text(CONFIG_TEMPLATE.format(port=upstream_port, pool=pool) + extra)
    return path


def proxy_env() -> dict[str, str]:
    return {**os.environ, "UP_KEY": UPSTREAM_KEY, "PROXY_API_KEY": CLIENT_KEY}


def proxy_command(
    config: Path, port: int, launcher: list[str] | None = None, log_level: str = "warning"
) -> list[str]:
    """`python -m proxy ...`, or the same module under a launcher (e.g. a profiler)."""
    head = launcher if launcher is not None else [sys.executable, "-m"]
    args = ["--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    return [*head, "proxy", *args, "--log-level", log_level]


def start_proxy(
    stack: contextlib.ExitStack,
    workdir: Path,
    upstream: Upstream,
    launcher: list[str] | None = None,
    stop_signal: int | None = None,
    extra_config: str = "",
    log_level: str = "warning",
    max_connections: int | None = None,
) -> Proxy:
    """Spawn the proxy pinned to its core; time to ready is spawn to the first 200 /health."""
    port = procs.free_port()
    config = write_config(workdir, upstream.port, extra_config, max_connections)
    cmd = proxy_command(config, port, launcher, log_level)
    log = workdir / "proxy.log"
    spawned = time.perf_counter()
    proc = procs.spawn(cmd, procs.PROXY_CORE, log, env=proxy_env())
    if stop_signal is None:
        stack.enter_context(procs.running(proc))
    else:
        stack.callback(procs.stop, proc, stop_signal)
    try:
        ready = procs.wait_ready(proc, port, "/health", READY_TIMEOUT)
    except RuntimeError as exc:
        raise RuntimeError(f"the proxy did not start: {exc}\n{procs.log_tail(log)}") from None
    time.sleep(IDLE_SETTLE)
    return Proxy(port, proc.pid, ready - spawned, procs.memory_mb(proc.pid), log)
