"""What OpenTelemetry tracing costs (issue 13: at most 40 us of proxy CPU per request with
sampling 1.0): the same load through the proxy with `tracing: {enabled: true}` and with
tracing off, non-stream (S1) and stream (S4, 20 chunks) at 32 concurrent by default.

    python -m bench.tracing [--rounds 5] [--duration 4] [--concurrency 32]

With tracing on every request is sampled (OTEL_TRACES_SAMPLER=always_on) and its spans
are exported over OTLP/HTTP to a local sink: a second instance of the bench's fake upstream
on the client core, which answers any POST with 200 (the exporter only looks at the
status). Both variants get the same environment; only the config differs. Each round runs
off then on, back to back, so drift in the machine's speed hits both alike; the report gives
the median over rounds and the cost per request.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import procs
from bench.points import Point, Timing, run_point
from bench.stack import start_proxy, start_upstream

VARIANTS = {"off": "", "on": "tracing: {enabled: true}\n"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    return parser.parse_args(argv)


def one_variant(
    workdir: Path, upstream: Any, variant: str, points: list[Point], timing: Timing
) -> dict[str, float]:
    """req/s per mode, and proxy CPU microseconds per request under "<mode> cpu"."""
    rates = {}
    with contextlib.ExitStack() as stack:
        proxy = start_proxy(stack, workdir, upstream, extra_config=VARIANTS[variant])
        for point in points:
            result = run_point(proxy.url, point, timing, {"proxy": proxy.pid})
            if result["errors"]:
                raise RuntimeError(f"tracing {variant} {point.mode}: {result['errors']} errors")
            rates[point.mode] = result["rps"]
            rates[point.mode + " cpu"] = result["proxy_cpu_us_per_req"]
    return rates


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    procs.pin_self_to_client_core()
    timing = Timing(warmup=args.warmup, duration=args.duration)
    points = [Point("proxy", stream, args.concurrency) for stream in (False, True)]
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream = start_upstream(stack, workdir, 20, 0.0)
        sink_dir = workdir / "sink"
        sink_dir.mkdir()
        sink = start_upstream(stack, sink_dir, 1, 0.0)
        # Read by the proxy's OpenTelemetry SDK (inherited through bench.stack.proxy_env).
        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://127.0.0.1:{sink.port}/v1/traces"
        os.environ["OTEL_TRACES_SAMPLER"] = "always_on"
        for round_number in range(1, args.rounds + 1):
            for variant in VARIANTS:
                rates = one_variant(workdir, upstream, variant, points, timing)
                for mode, rate in rates.items():
                    samples.setdefault((variant, mode), []).append(rate)
                shown = ", ".join(
                    f"{m} {r:.0f}{' us/req' if m.endswith('cpu') else '/s'}"
                    for m, r in rates.items()
                )
                print(f"round {round_number} {variant:>3}: {shown}", file=sys.stderr, flush=True)
    print(
        f"\ntracing (sampling 1.0), {args.concurrency} concurrent, median of {args.rounds} rounds:"
    )
    for mode in ("non-stream", "stream"):
        on = statistics.median(samples["on", mode])
        off = statistics.median(samples["off", mode])
        cpu_on = statistics.median(samples["on", mode + " cpu"])
        cpu_off = statistics.median(samples["off", mode + " cpu"])
        print(
            f"  {mode:<10}  throughput off {off:7.1f}/s  on {on:7.1f}/s  cost "
            f"{(off - on) / off * 100:5.1f}%   |   proxy CPU off {cpu_off:6.1f} us/req  "
            f"on {cpu_on:6.1f} us/req  cost {cpu_on - cpu_off:+6.1f} us/req"
        )


if __name__ == "__main__":
    main()
