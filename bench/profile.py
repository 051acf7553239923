"""`python -m bench.profile`: where the proxy's CPU goes under load.

Starts the same pinned stack as `python -m bench` (fake upstream, proxy, closed-loop load)
and samples the proxy with py-spy (preferred: it attaches to the running process, pauses the
proxy only for the microseconds each sample takes, and sees through uvloop) or, when py-spy is not
installed, runs the proxy under pyinstrument. Output goes to bench/results/ (gitignored):

- py-spy:       profile-<mode>-c<N>.svg (flame graph), .collapsed.txt (raw stacks for
                speedscope.app / flamegraph.pl) and -summary.txt (top functions and layers);
- pyinstrument: profile-<mode>-c<N>-pyinstrument.txt (call tree).

Install py-spy with `pip install py-spy`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs, stacks
from bench.points import Point, Timing, expect, loader_command
from bench.stack import Proxy, start_proxy, start_upstream

RESULTS = procs.REPO_ROOT / "bench" / "results"
WARMUP = 1.0
TAIL = 2.0  # the load keeps running this long after the profiler stops
PROFILER_SLACK = 30.0


@dataclass(frozen=True)
class Outputs:
    stem: Path

    def path(self, suffix: str) -> Path:
        return self.stem.with_name(self.stem.name + suffix)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--tool", choices=("auto", "py-spy", "pyinstrument"), default="auto")
    parser.add_argument("--stream", action="store_true", help="profile streams (20 chunks)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds sampled")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="py-spy: include C frames")
    parser.add_argument(
        "--lineno", action="store_true", help="py-spy: stacks by line, not by function"
    )
    parser.add_argument(
        "--nonblocking",
        action="store_true",
        help="py-spy: do not pause the proxy per sample (less overhead, torn stacks)",
    )
    parser.add_argument("--top", type=int, default=25, help="rows per summary table")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    return parser.parse_args(argv)


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def choose_tool(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    if find_py_spy() is not None:
        return "py-spy"
    if importlib.util.find_spec("pyinstrument") is not None:
        return "pyinstrument"
    raise RuntimeError("neither py-spy nor pyinstrument is installed: pip install py-spy")


def py_spy_command(pid: int, fmt: str, out: Path, args: argparse.Namespace) -> list[str]:
    exe = find_py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(args.duration))]
    cmd += ["--rate", str(args.rate), "--format", fmt, "--output", str(out)]
    if args.nonblocking:
        cmd.append("--nonblocking")
    if fmt == "raw" and not args.lineno:
        cmd.append("--nolineno")  # aggregate by function for the summary
    if args.native:
        cmd.append("--native")
    return cmd


def run_py_spy(pid: int, outputs: Outputs, args: argparse.Namespace) -> None:
    """Raw stacks for the summary, then a flame graph: one sampler at a time, so the
    proxy is paused by only one of them."""
    for fmt, suffix in (("raw", ".collapsed.txt"), ("flamegraph", ".svg")):
        log = outputs.path(f".py-spy-{fmt}.log")
        log.unlink(missing_ok=True)
        cmd = py_spy_command(pid, fmt, outputs.path(suffix), args)
        with procs.running(procs.spawn(cmd, procs.CLIENT_CORE, log)) as job:
            if job.wait(timeout=args.duration + PROFILER_SLACK) != 0:
                raise RuntimeError(f"py-spy failed:\n{procs.log_tail(log)}")


def drive_load(
    proxy: Proxy, point: Point, load_seconds: float, during: Callable[[], None]
) -> dict[str, Any]:
    """Run the loader; call `during()` once its measuring window opens; return its JSON."""
    timing = Timing(WARMUP, load_seconds)
    proc = procs.spawn(loader_command(proxy.url, point, timing), procs.CLIENT_CORE, capture=True)
    with procs.running(proc):
        assert proc.stdout is not None
        reader = procs.LineReader(proc.stdout)
        expect(reader, "start", WARMUP + 20)
        before = procs.cpu_seconds(proxy.pid)
        during()
        expect(reader, "end", timing.duration + 10)
        cpu = procs.cpu_seconds(proxy.pid) - before
        result: dict[str, Any] = json.loads(reader.readline(30))
    result["proxy_cpu_us_per_req"] = 1e6 * cpu / result["requests"] if result["requests"] else None
    return result


def load_line(result: dict[str, Any]) -> str:
    per = result.get("proxy_cpu_us_per_req")
    cpu = f"{per:.0f} us CPU/request" if per is not None else "n/a"
    return (
        f"load while profiling: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
        f"{cpu}, {result['errors']} errors (slowed by the profiler's own overhead)"
    )


def profile_with_py_spy(args: argparse.Namespace, point: Point, outputs: Outputs) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream = start_upstream(stack, workdir, 20, 0.0)
        proxy = start_proxy(stack, workdir, upstream)
        sampled = 2 * args.duration + TAIL
        result = drive_load(proxy, point, sampled, lambda: run_py_spy(proxy.pid, outputs, args))
    summary = stacks.render(stacks.load(outputs.path(".collapsed.txt")), args.top)
    text = f"{describe(point)}\n{load_line(result)}\n\n{summary}\n"
    outputs.path("-summary.txt").write_text(text)
    return text + f"\nwrote {outputs.path('.svg')}, .collapsed.txt and -summary.txt"


def profile_with_pyinstrument(args: argparse.Namespace, point: Point, outputs: Outputs) -> str:
    report = outputs.path("-pyinstrument.txt")
    launcher = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(report), "-m"]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream = start_upstream(stack, workdir, 20, 0.0)
        # SIGINT lets uvicorn shut down cleanly, and pyinstrument then writes its report.
        proxy = start_proxy(stack, workdir, upstream, launcher, stop_signal=signal.SIGINT)
        result = drive_load(proxy, point, args.duration, lambda: None)
    if not report.exists():
        raise RuntimeError("pyinstrument wrote no report")
    return f"{describe(point)}\n{load_line(result)}\n\nwrote {report}"


def describe(point: Point) -> str:
    return f"proxy profile: {point.mode}, {point.concurrency} concurrent, pinned to core 0"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    procs.interrupt_on_sigterm()
    procs.pin_self_to_client_core()
    point = Point("proxy", args.stream, args.concurrency)
    args.out.mkdir(parents=True, exist_ok=True)
    mode = "stream" if args.stream else "nonstream"
    outputs = Outputs(args.out / f"profile-{mode}-c{args.concurrency}")
    tool = choose_tool(args.tool)
    try:
        if tool == "py-spy":
            print(profile_with_py_spy(args, point, outputs))
        else:
            print(profile_with_pyinstrument(args, point, outputs))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (RuntimeError, TimeoutError, EOFError, subprocess.SubprocessError) as exc:
        print(f"profiling failed: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
