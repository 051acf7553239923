"""`python -m bench --scenario tenants`: what a limited named key costs (issue 11).

S1 (non-stream) at 32 concurrent, three ways through the proxy: the anonymous (unlimited) key,
a named key with rpm/tpm/max_in_flight and a budget on the memory backend, and the same key on
the redis backend (a local `redis-server` on the client core, skipped if not installed). The
limits are set far above what the run can reach, so every request pays the full reserve and
reconcile path and none is refused. Reported: req/s, latency and the proxy's CPU per request;
for redis also the redis-server's CPU per request. Acceptance: the memory backend costs at most
15 us of proxy CPU per request over the anonymous key.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.points import Point, Timing, run_point
from bench.stack import CLIENT_KEY, Upstream, start_proxy, start_upstream

TENANT_KEY = "bench-tenant-key-not-a-secret"
NAMED_KEY = f"""\
  keys:
    - name: bench
      key: "{TENANT_KEY}"
      limits: {{rpm: 1000000000, tpm: 1000000000000, max_in_flight: 100000}}
      budget: {{usd: 1000000000, period: month}}
"""
REDIS_STATE = """\
state:
  backend: redis
  redis_url: "redis://127.0.0.1:{port}/0"
  timeout_ms: 1000
"""
MEMORY_BUDGET_US = 15.0


def start_redis(stack: contextlib.ExitStack, workdir: Path) -> tuple[int, int] | None:
    exe = shutil.which("redis-server")
    if exe is None:
        return None
    port = procs.free_port()
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = stack.enter_context(
        procs.running(procs.spawn(cmd, procs.CLIENT_CORE, workdir / "redis.log"))
    )
    deadline = time.monotonic() + 10.0
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return port, proc.pid
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)


def measure(
    label: str, url: str, key: str, timing: Timing, watched: dict[str, int]
) -> dict[str, Any]:
    point = Point("proxy", False, 32, api_key=key)
    result = run_point(url, point, timing, watched)
    result["variant"] = label
    redis_cpu = result["cpu_seconds"].get("redis")
    if redis_cpu is not None and result["requests"]:
        result["redis_cpu_us_per_req"] = 1e6 * redis_cpu / result["requests"]
    print(f"{label:<14} {report.row(result)}", file=sys.stderr, flush=True)
    return result


def run(args: argparse.Namespace, timing: Timing) -> int:
    procs.pin_self_to_client_core()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream: Upstream = start_upstream(stack, workdir, args.chunks, args.chunk_delay_ms)
        print(f"{'variant':<14} {report.HEADER}", file=sys.stderr)
        memory = start_proxy(stack, workdir, upstream, extra_config=NAMED_KEY)
        watched = {"proxy": memory.pid, "upstream": upstream.pid}
        results = [
            measure("unlimited", memory.url, CLIENT_KEY, timing, watched),
            measure("named-memory", memory.url, TENANT_KEY, timing, watched),
        ]
        redis = start_redis(stack, workdir)
        if redis is None:
            print("redis-server not installed: the redis variant is skipped", file=sys.stderr)
        else:
            port, redis_pid = redis
            (workdir / "redis").mkdir()
            shared = start_proxy(
                stack,
                workdir / "redis",
                upstream,
                extra_config=NAMED_KEY + REDIS_STATE.format(port=port),
            )
            watched = {"proxy": shared.pid, "upstream": upstream.pid, "redis": redis_pid}
            results.append(measure("named-redis", shared.url, TENANT_KEY, timing, watched))
    print()
    print(summary(results))
    return 1 if any(r["errors"] for r in results) else 0


def summary(results: list[dict[str, Any]]) -> str:
    by = {r["variant"]: r for r in results}
    lines = ["S1 (non-stream) at 32 concurrent, proxy CPU per request:"]
    for r in results:
        extra = ""
        if "redis_cpu_us_per_req" in r:
            extra = f", redis-server {r['redis_cpu_us_per_req']:.1f} us/req"
        lines.append(
            f"  {r['variant']:<14} {r['rps']:>9.1f} req/s  "
            f"{r['proxy_cpu_us_per_req'] or float('nan'):.1f} us/req{extra}"
        )
    base, mem = by.get("unlimited"), by.get("named-memory")
    if base and mem and base["proxy_cpu_us_per_req"] and mem["proxy_cpu_us_per_req"]:
        cost = mem["proxy_cpu_us_per_req"] - base["proxy_cpu_us_per_req"]
        verdict = "ok" if cost <= MEMORY_BUDGET_US else "MISS"
        lines.append(
            f"  [{verdict}] named key, memory backend: +{cost:.1f} us/req "
            f"(target <= {MEMORY_BUDGET_US:g})"
        )
    return "\n".join(lines)
