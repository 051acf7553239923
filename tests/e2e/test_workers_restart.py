"""--workers N and SIGHUP: the replaced workers stop reporting live gauges (issue 10, item 4).

uvicorn's supervisor restarts every worker on SIGHUP; prometheus-client keeps reading a
dead worker's `gauge_live*` files until someone calls mark_process_dead for it.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import ProxyProcess

CONFIG = """
providers: {m: {type: mock}}
models: {demo: [{provider: m, model: x}]}
auth: {disabled: true}
"""
_LIVE = re.compile(r"gauge_live\w*_(\d+)\.db")


def live_pids(directory: Path) -> set[int]:
    return {int(m.group(1)) for p in directory.iterdir() if (m := _LIVE.fullmatch(p.name))}


def wait_until(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[ProxyProcess, Path]]:
    config, metrics_dir = tmp_path / "c.yaml", tmp_path / "metrics"
    config.write_text(CONFIG)
    metrics_dir.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    process = ProxyProcess(str(config), env, "--workers", "2")
    try:
        yield process.wait_ready(), metrics_dir
    finally:
        process.stop()


def test_sighup_restarted_workers_are_marked_dead(proxy: tuple[ProxyProcess, Path]) -> None:
    process, metrics_dir = proxy
    body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client() as client:  # new connections: both workers touch their live gauges
        for _ in range(20):
            response = client.post(
                f"{process.url}/v1/chat/completions", json=body, headers={"connection": "close"}
            )
            assert response.status_code == 200
    before = live_pids(metrics_dir) - {process.process.pid}  # the supervisor's own (zeros)
    assert len(before) == 2, sorted(p.name for p in metrics_dir.iterdir())
    process.process.send_signal(signal.SIGHUP)
    assert wait_until(lambda: not (live_pids(metrics_dir) & before), 60), sorted(
        p.name for p in metrics_dir.iterdir()
    )
    assert httpx.get(f"{process.url}/health", timeout=5).status_code == 200
