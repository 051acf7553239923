"""Run ASGI apps on 127.0.0.1 in a background thread, for end-to-end tests."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]


class _ThreadServer(uvicorn.Server):
    pass


class RunningServer:
    def __init__(self, app: Any, **config: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {"log_level": "warning", "lifespan": "on", "timeout_graceful_shutdown": 2}
        settings.update(config)
        self._server = _ThreadServer(uvicorn.Config(app, **settings))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> RunningServer:
        self._thread.start()
        wait_until(lambda: self._server.started or not self._thread.is_alive(), 10, step=0.005)
        if not self._server.started:
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


def free_port() -> int:
    """A loopback port with nothing listening (for connection-refused tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ProxyProcess:
    """`python -m proxy` as a real subprocess on a free loopback port (for logs, signals,
    workers). Its stderr (the log) is collected in `log_lines()` after `stop()`. It runs from
    the repository root, so it imports this checkout's `proxy`."""

    READY_PATH = "/health"  # what wait_ready polls

    def __init__(
        self, config_path: str, env: dict[str, str], *args: str, log_path: Path | None = None
    ) -> None:
        import os
        import subprocess
        import sys
        import tempfile

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The log file lives as long as the process (a named one if the test reads it too).
        self._log = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
        command = [sys.executable, "-m", "proxy", "--config", config_path]
        command += ["--host", "127.0.0.1", "--port", str(self.port), *args]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS")}
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**full_env, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 20) -> ProxyProcess:
        if not wait_until(self._ready, timeout, step=0.05):
            raise RuntimeError(f"proxy not ready:\n{self.output()}")
        return self

    def _ready(self) -> bool:
        import httpx

        if self.process.poll() is not None:
            raise RuntimeError(f"proxy exited early:\n{self.output()}")
        try:
            return httpx.get(f"{self.url}{self.READY_PATH}", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 15) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except Exception:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def log_lines(self) -> list[str]:
        return [line for line in self.output().splitlines() if line.strip()]
