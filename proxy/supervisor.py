"""`--workers N`: uvicorn's process supervisor, plus the Prometheus bookkeeping it lacks.

uvicorn replaces workers that die and restarts all of them on SIGHUP; prometheus-client's
multiprocess mode then keeps reading the old workers' files unless someone calls
`mark_process_dead` for them (issue 10, item 4). The supervisor is the one process that
sees every worker end, so it does it, after each of its own checks.
"""

from __future__ import annotations

import os

from prometheus_client import multiprocess
from uvicorn.supervisors import Multiprocess


class Supervisor(Multiprocess):
    def handle_signals(self) -> None:
        before = self._pids()
        super().handle_signals()  # SIGHUP: restart_all
        self._forget(before - self._pids())

    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        super().keep_subprocess_alive()  # replaces dead workers
        self._forget(before - self._pids())

    def _pids(self) -> set[int]:
        return {p.pid for p in self.processes if p.pid is not None}

    @staticmethod
    def _forget(pids: set[int]) -> None:
        if pids and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            for pid in pids:
                multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
