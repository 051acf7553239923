"""`python -m bench`: direct-to-upstream vs through the proxy, non-stream and stream."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.points import Point, Timing, run_point
from bench.stack import Proxy, Upstream, start_proxy, start_upstream

DEFAULT_CONCURRENCY = "1,32,256"
QUICK_TIMING = Timing(warmup=0.5, duration=1.5)
# `--scenario latency` (issue 10): an upstream that answers after 50 ms, as LLMs answer after
# seconds, so the proxy holds as many requests open as there are clients.
SCENARIOS = {
    "default": {"latency_ms": 0.0, "concurrency": DEFAULT_CONCURRENCY},
    "latency": {"latency_ms": 50.0, "concurrency": "256,1024"},
    # Issue 12: S1@32 through the proxy uncached, then against a cached model (every request
    # after the first is a hit); memory backend, or redis with --cache-redis-url.
    "cache": {"latency_ms": 0.0, "concurrency": "32"},
    # issue 14: POST /v1/messages passthrough (anthropic upstream) and translated (openai
    # upstream), beside the chat rows they must be compared with.
    "messages": {"latency_ms": 0.0, "concurrency": "32"},
    # S1 at 32 with a limited named key, memory and redis backends (bench/tenants.py).
    "tenants": {"latency_ms": 0.0, "concurrency": "32"},
    # issue 14: POST /v1/responses passthrough (openai upstream) and translated (anthropic).
    "responses": {"latency_ms": 0.0, "concurrency": "32"},
}
CACHE_CONFIG = "cache:\n  models: [gpt-cached]\n"
CACHE_REDIS_CONFIG = (
    "state:\n  redis_url: {url}\ncache:\n  models: [gpt-cached]\n  backend: redis\n"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, help="measured seconds per point (default 5)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds first (default 1)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="default")
    parser.add_argument("--concurrency", help="comma list (default: the scenario's)")
    parser.add_argument(
        "--cache-redis-url", help="--scenario cache: the redis backend at this URL (loopback)"
    )
    parser.add_argument("--latency-ms", type=float, help="upstream delay before each answer")
    parser.add_argument(
        "--max-connections", type=int, help="the proxy's pool cap (default: max_in_flight)"
    )
    parser.add_argument("--quick", action="store_true", help="0.5 s warm-up + 1.5 s per point")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--chunks", type=int, default=20, help="SSE data events per stream")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="upstream gap")
    parser.add_argument(
        "--targets", default="direct,proxy", help="which of direct,proxy to measure"
    )
    args = parser.parse_args(argv)
    preset = SCENARIOS[args.scenario]
    if args.concurrency is None:
        args.concurrency = preset["concurrency"]
    if args.latency_ms is None:
        args.latency_ms = preset["latency_ms"]
    return args


def cache_config(args: argparse.Namespace) -> str:
    if args.scenario != "cache":
        return ""
    if args.cache_redis_url:
        return CACHE_REDIS_CONFIG.format(url=args.cache_redis_url)
    return CACHE_CONFIG


def timing_of(args: argparse.Namespace) -> Timing:
    base = QUICK_TIMING if args.quick else Timing(warmup=1.0, duration=5.0)
    return Timing(
        warmup=args.warmup if args.warmup is not None else base.warmup,
        duration=args.duration if args.duration is not None else base.duration,
    )


def plan(concurrency: list[int], targets: list[str], scenario: str = "default") -> list[Point]:
    """Direct and proxied runs side by side for each mode and concurrency; `cache`: the
    proxy uncached, then the cached model (non-stream and stream hits); `messages` adds
    /v1/messages rows (proxy only) after each chat row, `responses` /v1/responses rows."""
    if scenario == "cache":
        return [
            point
            for c in concurrency
            for point in (
                Point("proxy", False, c),
                Point("cached", False, c, "gpt-cached"),
                Point("cached", True, c, "gpt-cached"),
            )
        ]
    points = []
    for stream in (False, True):
        for c in concurrency:
            points += [Point(target, stream, c) for target in targets]
            if scenario == "messages":
                points.append(Point("proxy", stream, c, model="claude", surface="messages"))
                points.append(Point("proxy", stream, c, model="gpt", surface="messages"))
            if scenario == "responses":
                points.append(Point("proxy", stream, c, model="gpt", surface="responses"))
                points.append(Point("proxy", stream, c, model="claude", surface="responses"))
    return points


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=procs.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pinned": procs.can_pin(),
        "revision": git_revision(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def warn_if_busy(threshold: float = 10.0) -> None:
    load = procs.core_load(1.0)
    busy = {core: pct for core, pct in load.items() if pct > threshold}
    if busy:
        shown = ", ".join(f"{core} {pct:.0f}%" for core, pct in busy.items())
        print(f"warning: the machine is busy before the run ({shown})", file=sys.stderr)


def measure(points: list[Point], timing: Timing, upstream: Upstream, proxy: Proxy) -> list[Any]:
    watched = {"proxy": proxy.pid, "upstream": upstream.pid}
    results = []
    for point in points:
        url = proxy.url if point.proxied else upstream.url
        if point.surface == "messages":
            url = proxy.messages_url
        elif point.surface == "responses":
            url = proxy.responses_url
        result = run_point(url, point, timing, watched)
        print(report.row(result), file=sys.stderr, flush=True)
        results.append(result)
    return results


def run(args: argparse.Namespace) -> int:
    if args.scenario == "tenants":
        from bench import tenants

        return tenants.run(args, timing_of(args))
    procs.pin_self_to_client_core()
    timing = timing_of(args)
    concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    points = plan(concurrency, targets, args.scenario)
    if not procs.can_pin():
        print("warning: fewer than 2 cores or no taskset: running unpinned", file=sys.stderr)
    warn_if_busy()
    procs.raise_fd_limit(3 * max(concurrency) + 256)  # client, proxy in and out, upstream
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream = start_upstream(stack, workdir, args.chunks, args.chunk_delay_ms, args.latency_ms)
        proxy = start_proxy(
            stack,
            workdir,
            upstream,
            max_connections=args.max_connections,
            extra_config=cache_config(args),
        )
        print(f"proxy ready in {proxy.ready_seconds * 1000:.0f} ms", file=sys.stderr)
        print(report.HEADER, file=sys.stderr)
        results = measure(points, timing, upstream, proxy)
        startup = {
            "ready_seconds": proxy.ready_seconds,
            "idle_rss_mb": proxy.idle_rss_mb,
            "final_rss_mb": procs.memory_mb(proxy.pid),
            "peak_rss_mb": procs.memory_mb(proxy.pid, "VmHWM"),
        }
        proxy_log_tail = procs.log_tail(proxy.log, 5)
    found = report.checks(results, startup)
    print()
    print(report.render(results, startup, found))
    if proxy_log_tail:
        print(f"\nlast lines of the proxy's log:\n{proxy_log_tail}")
    if args.json is not None:
        write_json(args.json, args, timing, results, startup, found)
    return 1 if any(r["errors"] for r in results) else 0


def write_json(
    path: Path,
    args: argparse.Namespace,
    timing: Timing,
    results: list[Any],
    startup: dict[str, Any],
    found: list[report.Check],
) -> None:
    document = {
        "environment": environment(),
        "settings": {
            "warmup": timing.warmup,
            "duration": timing.duration,
            "concurrency": args.concurrency,
            "chunks": args.chunks,
            "chunk_delay_ms": args.chunk_delay_ms,
            "scenario": args.scenario,
            "latency_ms": args.latency_ms,
            "max_connections": args.max_connections,
        },
        "proxy": startup,
        "points": results,
        "checks": [{**vars(c), "verdict": c.verdict} for c in found],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")


def main(argv: list[str] | None = None) -> None:
    procs.interrupt_on_sigterm()
    try:
        sys.exit(run(parse_args(argv)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (RuntimeError, TimeoutError, EOFError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(2)
