"""What metrics and access logging cost: the same load through the proxy with both on
(metrics, one JSON access line per request written to a file) and with both off
(`admin: {metrics: false}`, `--log-level warning`).

    python -m bench.observability [--rounds 3] [--duration 4] [--concurrency 32]

Each round runs both variants back to back (on, then off) so that drift in the machine's
speed hits both alike; the report gives the median over rounds and the cost in percent.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import procs
from bench.points import Point, Timing, run_point
from bench.stack import start_proxy, start_upstream

VARIANTS = {
    "on": ("", "info"),
    "off": ("admin: {metrics: false}\n", "warning"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.observability", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    return parser.parse_args(argv)


def one_variant(
    workdir: Path, upstream: Any, variant: str, points: list[Point], timing: Timing
) -> dict[str, float]:
    """req/s per mode, and proxy CPU microseconds per request under "<mode> cpu"."""
    extra, level = VARIANTS[variant]
    rates = {}
    with contextlib.ExitStack() as stack:
        proxy = start_proxy(stack, workdir, upstream, extra_config=extra, log_level=level)
        for point in points:
            result = run_point(proxy.url, point, timing, {"proxy": proxy.pid})
            if result["errors"]:
                raise RuntimeError(f"{variant} {point.mode}: {result['errors']} errors")
            rates[point.mode] = result["rps"]
            rates[point.mode + " cpu"] = result["proxy_cpu_us_per_req"]
    return rates


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    procs.pin_self_to_client_core()
    timing = Timing(warmup=args.warmup, duration=args.duration)
    points = [Point("proxy", stream, args.concurrency) for stream in (False, True)]
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-obs-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream = start_upstream(stack, workdir, 20, 0.0)
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
        f"\nmetrics + access logs, {args.concurrency} concurrent, median of {args.rounds} rounds:"
    )
    for mode in ("non-stream", "stream"):
        on = statistics.median(samples["on", mode])
        off = statistics.median(samples["off", mode])
        cpu_on = statistics.median(samples["on", mode + " cpu"])
        cpu_off = statistics.median(samples["off", mode + " cpu"])
        print(
            f"  {mode:<10}  throughput off {off:7.1f}/s  on {on:7.1f}/s  cost "
            f"{(off - on) / off * 100:5.1f}%   |   proxy CPU off {cpu_off:6.1f} us/req  "
            f"on {cpu_on:6.1f} us/req  cost {(cpu_on - cpu_off) / cpu_off * 100:5.1f}%"
        )


if __name__ == "__main__":
    main()
