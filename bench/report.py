"""Formatting: the results table, the added latency and the acceptance checks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]

HEADER = (
    f"{'mode':<19} {'conc':>4} {'target':<6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'proxy CPU us/req':>16} {'proxy core':>10} {'client core':>11} {'errors':>6} "
    f"{'noise c0/c1':>11}"
)
NOISY_PCT = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    limit: float
    unit: str
    higher_is_better: bool
    kind: str  # "target" or "goal"

    @property
    def verdict(self) -> str:
        if self.value is None or math.isnan(self.value):
            return "n/a"
        ok = self.value >= self.limit if self.higher_is_better else self.value < self.limit
        if ok:
            return "PASS"
        return "MISS" if self.kind == "target" else "not met"

    def line(self) -> str:
        sign = ">=" if self.higher_is_better else "<"
        shown = "-" if self.value is None else f"{self.value:.3f}".rstrip("0").rstrip(".")
        want = f"{sign} {self.limit:g} {self.unit}"
        return f"  [{self.verdict:^7}] {self.kind:<6} {self.name:<44} {shown:>10} {self.unit:<9} ({want})"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, fmt)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def row(r: Result) -> str:
    return (
        f"{r['mode']:<19} {r['concurrency']:>4} {r['target']:<6} {r['rps']:>9.1f} "
        f"{_num(r['p50_ms'], '.3f'):>8} {_num(r['p99_ms'], '.3f'):>8} "
        f"{_num(r['proxy_cpu_us_per_req'], '.1f'):>16} {_pct(r['proxy_core_pct']):>10} "
        f"{_pct(r['client_core_pct']):>11} {r['errors']:>6} "
        f"{_pct(r.get('other_core0_pct')) + '/' + _pct(r.get('other_core1_pct')):>11}"
    )


def table(results: list[Result]) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    previous: tuple[str, int] | None = None
    for r in results:
        group = (r["mode"], r["concurrency"])
        if previous is not None and group[0] != previous[0]:
            lines.append("")
        previous = group
        lines.append(row(r))
    return "\n".join(lines)


def find(results: list[Result], target: str, mode: str, concurrency: int) -> Result | None:
    for r in results:
        if (r["target"], r["mode"], r["concurrency"]) == (target, mode, concurrency):
            return r
    return None


def added_latency_ms(results: list[Result], mode: str, key: str = "p50_ms") -> float | None:
    """Proxy minus direct latency at 1 concurrent (None without both points)."""
    direct = find(results, "direct", mode, 1)
    proxied = find(results, "proxy", mode, 1)
    if direct is None or proxied is None:
        return None
    return float(proxied[key] - direct[key])


def _field(results: list[Result], mode: str, concurrency: int, key: str) -> float | None:
    r = find(results, "proxy", mode, concurrency)
    return None if r is None or r[key] is None else float(r[key])


def checks(results: list[Result], startup: Result) -> list[Check]:
    ns, st = "non-stream", "stream"
    return [
        Check("non-stream req/s at 32 concurrent", _field(results, ns, 32, "rps"), 2000, "req/s", True, "target"),
        Check("stream streams/s at 32 concurrent", _field(results, st, 32, "rps"), 1000, "streams/s", True, "target"),
        Check("added p50 latency at 1 concurrent", added_latency_ms(results, ns), 0.5, "ms", False, "target"),
        Check("idle RSS", startup["idle_rss_mb"], 60, "MiB", False, "target"),
        Check("time to ready", startup["ready_seconds"], 1.0, "s", False, "target"),
        Check("non-stream req/s at 32 concurrent", _field(results, ns, 32, "rps"), 4000, "req/s", True, "goal"),
        Check("proxy CPU per non-stream request at 32", _field(results, ns, 32, "proxy_cpu_us_per_req"), 250, "us", False, "goal"),
        *cache_checks(results),
    ]  # fmt: skip


def cache_checks(results: list[Result]) -> list[Check]:
    """`--scenario cache` (issue 12): cache hits at 32 against the uncached rate."""
    hits = find(results, "cached", "non-stream", 32)
    uncached = find(results, "proxy", "non-stream", 32)
    if hits is None or uncached is None or not uncached["rps"]:
        return []
    ratio = float(hits["rps"]) / float(uncached["rps"])
    return [Check("cache hit req/s / uncached req/s at 32", ratio, 2.0, "x", True, "target")]


def latency_lines(results: list[Result]) -> list[str]:
    lines = []
    for mode in ("non-stream", "stream"):
        p50 = added_latency_ms(results, mode)
        p99 = added_latency_ms(results, mode, "p99_ms")
        if p50 is not None and p99 is not None:
            lines.append(
                f"  {mode:<10}  p50 {p50 * 1000:+8.0f} us   p99 {p99 * 1000:+8.0f} us"
                "   (proxy minus direct, 1 concurrent)"
            )
    return lines


def startup_lines(startup: Result) -> list[str]:
    return [
        f"  time to ready (spawn -> first 200 on /health): {startup['ready_seconds'] * 1000:.0f} ms",
        f"  idle RSS after startup:                        {startup['idle_rss_mb']:.1f} MiB",
        f"  RSS after the load / peak RSS (VmHWM):         "
        f"{startup.get('final_rss_mb', float('nan')):.1f} / "
        f"{startup.get('peak_rss_mb', float('nan')):.1f} MiB",
    ]


def is_noisy(r: Result) -> bool:
    """Other work on the core that bounds this row: the proxy's core for proxied rows, the
    client core for direct ones. (The partly idle client core in proxied rows always shows
    some: wake-ups and tick-sampled accounting of short bursts land there.)"""
    key = "other_core1_pct" if r["target"] == "direct" else "other_core0_pct"
    return (r.get(key) or 0.0) > NOISY_PCT


def noise_lines(results: list[Result]) -> list[str]:
    """A warning when something else ran on the pinned cores during a point."""
    noisy = [r for r in results if is_noisy(r)]
    if not noisy:
        return []
    where = ", ".join(f"{r['target']} {r['mode']} c{r['concurrency']}" for r in noisy)
    return [
        "",
        f"WARNING: other work took more than {NOISY_PCT:.0f}% of the measured core during: "
        f"{where}. Those numbers are unreliable; rerun on a quiet machine.",
    ]


def render(results: list[Result], startup: Result, found: list[Check]) -> str:
    parts = [
        table(results),
        "",
        "Proxy process:",
        *startup_lines(startup),
        "",
        "Added latency through the proxy:",
        *(latency_lines(results) or ["  (needs concurrency 1 in the list)"]),
        "",
        "Acceptance (targets must pass; goals are aspirations):",
        *(c.line() for c in found),
        *noise_lines(results),
    ]
    return "\n".join(parts)
