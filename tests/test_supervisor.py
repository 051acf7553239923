"""--workers N: the supervisor marks every worker it replaced as dead for prometheus-client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from uvicorn.supervisors import Multiprocess

from proxy import supervisor
from proxy.supervisor import Supervisor


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid


def _supervisor(pids: list[int]) -> Supervisor:
    # Not __init__: it installs signal handlers, which a test process must keep.
    sup = Supervisor.__new__(Supervisor)
    sup.processes = [FakeProcess(p) for p in pids]  # type: ignore[misc]
    return sup


@pytest.mark.parametrize("method", ["handle_signals", "keep_subprocess_alive"])
def test_replaced_workers_are_marked_dead(
    method: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    dead: list[int] = []
    monkeypatch.setattr(supervisor.multiprocess, "mark_process_dead", dead.append)
    sup = _supervisor([101, 102])

    def replace_first(self: Any) -> None:  # what uvicorn does on SIGHUP / a dead worker
        self.processes[0] = FakeProcess(201)

    monkeypatch.setattr(Multiprocess, method, replace_first)
    getattr(sup, method)()
    assert dead == [101]
    getattr(sup, method)()  # the same pids again: nobody is marked twice
    assert dead == [101]
