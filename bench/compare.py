"""`python -m bench.compare --other ../base`: this checkout against another, side by side in
one run, so that a change can be said to cost (or save) so much against the previous main.

The two proxies run alternately, `--rounds` times, each under its own checkout's `python -m
bench --targets proxy` (same interpreter, same machine, minutes apart), so drift in the
machine's speed falls on both alike; the report gives per point (mode x concurrency) the
median proxy CPU per request and throughput of each, and the change. On a shared or
virtualised machine single runs move by 10-20%: use five rounds or more, and read the
instruction counts of `python -m bench.instructions` beside these.

    git worktree add --detach ../base <previous main>
    python -m bench.compare --other ../base --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import procs

Samples = dict[tuple[str, str, int, str], list[float]]  # (tree, mode, concurrency, what)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("--other", type=Path, required=True, help="the other checkout's root")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", default="1,32,256", help="comma list")
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per point")
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    return parser.parse_args(argv)


def run_bench(tree: Path, args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    """One `python -m bench` of `tree`'s own code; its proxy points."""
    cmd = [sys.executable, "-m", "bench", "--targets", "proxy", "--json", str(out)]
    cmd += ["--concurrency", args.concurrency, "--duration", str(args.duration)]
    done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=900)
    if not out.exists():
        raise RuntimeError(f"bench in {tree} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    points: list[dict[str, Any]] = json.loads(out.read_text())["points"]
    return [p for p in points if p["target"] == "proxy"]


def collect(trees: dict[str, Path], args: argparse.Namespace, workdir: Path) -> Samples:
    samples: Samples = {}
    for round_number in range(1, args.rounds + 1):
        for name, tree in trees.items():
            for point in run_bench(tree, args, workdir / f"{name}-{round_number}.json"):
                key = (name, point["mode"], point["concurrency"])
                samples.setdefault((*key, "cpu"), []).append(point["proxy_cpu_us_per_req"])
                samples.setdefault((*key, "rps"), []).append(point["rps"])
            print(f"round {round_number}: {name} done", file=sys.stderr, flush=True)
    return samples


def report(samples: Samples, names: tuple[str, str]) -> None:
    other, this = names
    points = sorted({(m, c) for (_, m, c, _) in samples}, key=lambda p: (p[0], p[1]))
    print(f"\nproxy CPU us/request and req/s, median of each point's rounds ({other} -> {this}):")
    for mode, concurrency in points:
        cpu = [statistics.median(samples[(n, mode, concurrency, "cpu")]) for n in names]
        rps = [statistics.median(samples[(n, mode, concurrency, "rps")]) for n in names]
        print(
            f"  {mode:<10} @{concurrency:<4} CPU {cpu[0]:7.1f} -> {cpu[1]:7.1f} us "
            f"({(cpu[1] - cpu[0]) / cpu[0] * 100:+5.1f}%)   req/s {rps[0]:7.1f} -> {rps[1]:7.1f} "
            f"({(rps[1] - rps[0]) / rps[0] * 100:+5.1f}%)"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trees = {"other": args.other.resolve(), "this": procs.REPO_ROOT}
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        samples = collect(trees, args, Path(tmp))
    if args.json is not None:
        rows = [
            {"tree": k[0], "mode": k[1], "concurrency": k[2], k[3]: v} for k, v in samples.items()
        ]
        args.json.write_text(json.dumps(rows, indent=1))
    report(samples, ("other", "this"))


if __name__ == "__main__":
    main()
