"""Process plumbing for the benchmark: pinned spawning, readiness, /proc counters, cleanup."""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
PROXY_CORE = 0
CLIENT_CORE = 1
STOP_GRACE = 5.0


def can_pin() -> bool:
    """Two cores and taskset: the proxy gets core 0, everything else core 1."""
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def pin_self_to_client_core() -> None:
    """Keep the orchestrating process (polling, /proc reads) off the proxy's core."""
    if can_pin():
        os.sched_setaffinity(0, {CLIENT_CORE})


def interrupt_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so `finally` blocks stop the processes we started."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def pinned(cmd: list[str], core: int) -> list[str]:
    # taskset execs the command, so the Popen pid is the pid of the pinned program itself.
    return ["taskset", "-c", str(core), *cmd] if can_pin() else cmd


def spawn(
    cmd: list[str],
    core: int,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `cmd` pinned to `core`; stdout is a pipe when `capture`, else goes to `log`."""
    out: IO[bytes] | int = subprocess.DEVNULL
    if log is not None:
        out = log.open("ab")
    stdout: IO[bytes] | int = subprocess.PIPE if capture else out
    try:
        return subprocess.Popen(
            pinned(cmd, core),
            stdout=stdout,
            stderr=out,
            env=dict(env) if env is not None else None,
            cwd=REPO_ROOT,
            bufsize=0,
        )
    finally:
        if not isinstance(out, int):
            out.close()


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft open-file limit (children inherit it) toward `needed`:
    1,024 concurrent clients take about 3,000 sockets across the three processes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        print(f"warning: open-file limit {target} < {needed}: expect errors", file=sys.stderr)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    """Terminate one process we started (by its pid), escalating to SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_GRACE)


@contextlib.contextmanager
def running(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield proc
    finally:
        stop(proc)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, path: str, timeout: float) -> float:
    """Poll GET `path` until 200; the perf_counter time of that first 200."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before it was ready")
        if http_ok(port, path):
            return time.perf_counter()
        time.sleep(0.002)
    raise RuntimeError(f"no 200 on {path} within {timeout:.0f} s")


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _CLOCK_TICKS


def core_busy_seconds() -> dict[str, float]:
    """Busy (non-idle, non-iowait) time of each core since boot, from /proc/stat, keyed
    `core0`, `core1`, ...: what everything on that core used, our processes included."""
    busy = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
            busy[f"core{name[3:]}"] = (sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS
    return busy


def core_load(seconds: float) -> dict[str, float]:
    """Percent busy of each core over the next `seconds` (a pre-flight quietness check)."""
    before = core_busy_seconds()
    time.sleep(seconds)
    after = core_busy_seconds()
    return {core: 100 * (after[core] - before[core]) / seconds for core in before}


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    """A /proc/<pid>/status memory line (VmRSS, VmHWM, ...) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def log_tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class LineReader:
    """Lines from an unbuffered pipe, each read with a deadline (never blocks forever)."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._fd = pipe.fileno()
        self._buffer = b""

    def readline(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no output from the load generator in time")
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready:
                data = os.read(self._fd, 65536)
                if not data:
                    raise EOFError("the load generator closed its output")
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()
