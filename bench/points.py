"""One measurement point: a load generator run against one URL, with CPU counters around it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench import procs
from bench.stack import CLIENT_KEY

START_SLACK = 20.0  # seconds allowed for the loader to start up and print `start`
END_SLACK = 10.0
RESULT_SLACK = 30.0  # in-flight requests are drained for at most 15 s by the loader


@dataclass(frozen=True)
class Point:
    target: str  # "direct", "proxy", or "cached" (the proxy, a cached model: issue 12)
    stream: bool
    concurrency: int
    # gpt: the openai upstream; gpt-cached: the same, cached (--scenario cache); claude: the
    # anthropic one (passthrough, --scenario messages)
    model: str = "gpt"
    surface: str = "chat"  # or "messages" (POST /v1/messages), "responses" (/v1/responses)
    api_key: str = CLIENT_KEY  # the tenants scenario also measures a named key

    @property
    def proxied(self) -> bool:
        return self.target != "direct"

    @property
    def mode(self) -> str:
        mode = "stream" if self.stream else "non-stream"
        if self.surface == "messages":  # passthrough to anthropic, or translated to openai
            return f"msg-{'pass' if self.model == 'claude' else 'tran'} {mode}"
        if self.surface == "responses":  # passthrough to openai, or translated to anthropic
            return f"resp-{'pass' if self.model == 'gpt' else 'tran'} {mode}"
        return mode


@dataclass(frozen=True)
class Timing:
    warmup: float
    duration: float


def loader_command(url: str, point: Point, timing: Timing) -> list[str]:
    args = [
        "--url",
        url,
        "--api-key",
        point.api_key,
        "--concurrency",
        str(point.concurrency),
        "--warmup",
        str(timing.warmup),
        "--duration",
        str(timing.duration),
    ]
    if point.stream:
        args.append("--stream")
    args += ["--surface", point.surface, "--model", point.model]
    return procs.python_module("bench.load", *args)


def expect(reader: procs.LineReader, word: str, timeout: float) -> None:
    line = reader.readline(timeout)
    if line.strip() != word:
        raise RuntimeError(f"load generator said {line!r}, expected {word!r}")


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds of each watched process and busy seconds of each core."""
    return {
        **{name: procs.cpu_seconds(pid) for name, pid in pids.items()},
        **procs.core_busy_seconds(),
    }


def run_point(url: str, point: Point, timing: Timing, watched: dict[str, int]) -> dict[str, Any]:
    """Run the loader for one point; `watched` maps names (proxy, upstream) to pids whose CPU
    time is read when the loader opens and closes its window."""
    proc = procs.spawn(loader_command(url, point, timing), procs.CLIENT_CORE, capture=True)
    with procs.running(proc):
        assert proc.stdout is not None
        reader = procs.LineReader(proc.stdout)
        pids = {**watched, "loader": proc.pid}
        expect(reader, "start", timing.warmup + START_SLACK)
        before = cpu_snapshot(pids)
        expect(reader, "end", timing.duration + END_SLACK)
        after = cpu_snapshot(pids)
        result: dict[str, Any] = json.loads(reader.readline(RESULT_SLACK))
        proc.wait(timeout=RESULT_SLACK)
    return with_cpu(result, point, {k: after[k] - before[k] for k in before})


def with_cpu(result: dict[str, Any], point: Point, cpu: dict[str, float]) -> dict[str, Any]:
    seconds = result["seconds"]
    requests = result["requests"]
    proxy_cpu = cpu.get("proxy", 0.0)
    client_cpu = cpu["loader"] + cpu.get("upstream", 0.0)
    result.update(
        target=point.target,
        mode=point.mode,
        cpu_seconds=cpu,
        client_core_pct=100 * client_cpu / seconds,
        # CPU used on each core by anything else (other processes, interrupts): noise.
        other_core0_pct=_other(cpu, f"core{procs.PROXY_CORE}", proxy_cpu, seconds),
        other_core1_pct=_other(cpu, f"core{procs.CLIENT_CORE}", client_cpu, seconds),
        proxy_core_pct=100 * proxy_cpu / seconds if point.proxied else None,
        proxy_cpu_us_per_req=(1e6 * proxy_cpu / requests if point.proxied and requests else None),
    )
    return result


def _other(cpu: dict[str, float], core: str, ours: float, seconds: float) -> float | None:
    if core not in cpu or not procs.can_pin():
        return None
    return max(0.0, 100 * (cpu[core] - ours) / seconds)
