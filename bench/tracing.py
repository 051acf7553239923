"""What OpenTelemetry tracing costs (issue 13: at most 40 us of proxy CPU per request with
sampling 1.0): the same load through the proxy with `tracing: {enabled: true}` and with
tracing off, non-stream (S1) and stream (S4, 20 chunks) at 32 concurrent by default.

    python -m bench.tracing [--rounds 5] [--duration 4] [--concurrency 32]
                            [--method together|alternate]

With tracing on every request is sampled (OTEL_TRACES_SAMPLER=always_on) and its spans
are exported over OTLP/HTTP to a local sink: a second instance of the bench's fake upstream
on the client core, which answers any POST with 200 (the exporter only looks at the
status). Both variants get the same environment; only the config differs. The proxy's CPU
is the whole process's: the span export thread is in it.

How the two are compared:
- together (the default): both proxies run at once on the proxy core, each with its own
  load generator, and each round measures both over the same seconds. The CPU time one
  request costs moves by 10-20% on a shared VM from one run to the next; here a slow spell
  hits both alike, so the difference per round is steady to a few microseconds (two
  processes on one core also evict each other's caches: both figures are higher than alone).
- alternate: one proxy at a time, off then on in each round, each started anew: the figures
  a user would see alone, but the round-to-round noise is larger than 40 us.
The report gives each round's figures, and the medians of the figures and of the differences.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from bench import procs
from bench.points import Point, Timing, run_point
from bench.stack import Proxy, Upstream, start_proxy, start_upstream

VARIANTS = {"off": "", "on": "tracing: {enabled: true}\n"}
MODES = ("non-stream", "stream")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--method", choices=("together", "alternate"), default="together")
    return parser.parse_args(argv)


def measure(proxy: Proxy, point: Point, timing: Timing) -> tuple[float, float]:
    """(req/s, proxy CPU us per request) for one point."""
    result = run_point(proxy.url, point, timing, {"proxy": proxy.pid})
    if result["errors"]:
        raise RuntimeError(f"{point.mode}: {result['errors']} errors")
    return result["rps"], result["proxy_cpu_us_per_req"]


def together(proxies: dict[str, Proxy], point: Point, timing: Timing) -> dict[str, Any]:
    """Both variants loaded over the same window, each by its own load generator."""
    results: dict[str, Any] = {}

    def one(variant: str) -> None:
        try:
            results[variant] = measure(proxies[variant], point, timing)
        except Exception as exc:  # reported by the caller
            results[variant] = exc

    threads = [threading.Thread(target=one, args=(variant,)) for variant in VARIANTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for variant, result in results.items():
        if isinstance(result, Exception):
            raise RuntimeError(f"tracing {variant}: {result}") from result
    return results


def rounds_together(
    workdir: Path, upstream: Upstream, points: list[Point], timing: Timing, rounds: int
) -> list[dict[str, Any]]:
    with contextlib.ExitStack() as stack:
        proxies = {}
        for variant, extra in VARIANTS.items():
            home = workdir / variant
            home.mkdir()
            proxies[variant] = start_proxy(stack, home, upstream, extra_config=extra)
        return [
            {point.mode: together(proxies, point, timing) for point in points}
            for _ in range(rounds)
        ]


def rounds_alternating(
    workdir: Path, upstream: Upstream, points: list[Point], timing: Timing, rounds: int
) -> list[dict[str, Any]]:
    out = []
    for _ in range(rounds):
        figures: dict[str, dict[str, Any]] = {point.mode: {} for point in points}
        for variant, extra in VARIANTS.items():
            with contextlib.ExitStack() as stack:
                proxy = start_proxy(stack, workdir, upstream, extra_config=extra)
                for point in points:
                    figures[point.mode][variant] = measure(proxy, point, timing)
        out.append(figures)
    return out


def report(all_rounds: list[dict[str, Any]], args: argparse.Namespace) -> None:
    for number, figures in enumerate(all_rounds, 1):
        shown = "; ".join(
            f"{mode} off {f['off'][1]:.0f} us ({f['off'][0]:.0f}/s) on {f['on'][1]:.0f} us "
            f"({f['on'][0]:.0f}/s) {f['on'][1] - f['off'][1]:+.0f} us"
            for mode, f in figures.items()
        )
        print(f"round {number}: {shown}", file=sys.stderr, flush=True)
    print(
        f"\ntracing (sampling 1.0), {args.concurrency} concurrent, {args.method}, "
        f"median of {args.rounds} rounds:"
    )
    for mode in MODES:
        per_round = [figures[mode] for figures in all_rounds]
        off = statistics.median(f["off"][1] for f in per_round)
        on = statistics.median(f["on"][1] for f in per_round)
        rate_off = statistics.median(f["off"][0] for f in per_round)
        rate_on = statistics.median(f["on"][0] for f in per_round)
        costs = sorted(f["on"][1] - f["off"][1] for f in per_round)
        print(
            f"  {mode:<10}  proxy CPU off {off:6.1f} us/req  on {on:6.1f} us/req  |  cost per "
            f"round: median {statistics.median(costs):+6.1f} us/req (from {costs[0]:+.1f} to "
            f"{costs[-1]:+.1f})  |  req/s off {rate_off:7.1f}  on {rate_on:7.1f}"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    procs.pin_self_to_client_core()
    timing = Timing(warmup=args.warmup, duration=args.duration)
    points = [Point("proxy", stream, args.concurrency) for stream in (False, True)]
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream = start_upstream(stack, workdir, 20, 0.0)
        sink_dir = workdir / "sink"
        sink_dir.mkdir()
        sink = start_upstream(stack, sink_dir, 1, 0.0)
        # Read by the proxy's OpenTelemetry SDK (inherited through bench.stack.proxy_env).
        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://127.0.0.1:{sink.port}/v1/traces"
        os.environ["OTEL_TRACES_SAMPLER"] = "always_on"
        run = rounds_together if args.method == "together" else rounds_alternating
        report(run(workdir, upstream, points, timing, args.rounds), args)


if __name__ == "__main__":
    main()
