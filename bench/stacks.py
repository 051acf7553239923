"""Summaries of collapsed stacks (`frame;frame;frame count` lines, as py-spy's raw format).

Self time is charged to the innermost frame of a sample, total time to every distinct frame
on its stack. Without py-spy's `--idle`, samples of a thread blocked in the event loop's
poll are dropped, so the percentages are shares of the process's busy (CPU) samples.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT_MARKERS = ("Runner.run (asyncio/runners.py)", "BaseEventLoop._run_once (asyncio/")
# py-spy reports a thread sleeping in a timed threading wait (the log flusher's
# Event.wait(0.2)) as busy; such samples are idle time and are dropped.
IDLE_WAITS = ("Condition.wait (threading.py)", "Event.wait (threading.py)")
EVENT_LOOP = "(event loop: uvloop C code and syscalls, no Python frame)"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")

# Which layer a frame belongs to, judged by its file path (first match wins).
LAYERS: tuple[tuple[str, str], ...] = (
    ("proxy/", "proxy (this project)"),
    ("starlette/", "starlette"),
    ("uvicorn/", "uvicorn"),
    ("httptools", "httptools"),
    ("httpx_aiohttp/", "httpx-aiohttp transport"),
    ("httpx/", "httpx"),
    ("httpcore/", "httpcore"),
    ("aiohttp/", "aiohttp"),
    ("multidict", "multidict/yarl"),
    ("yarl/", "multidict/yarl"),
    ("anyio/", "anyio"),
    ("asyncio/", "asyncio"),
    ("uvloop", "uvloop"),
    ("orjson", "orjson"),
    ("prometheus_client/", "prometheus_client"),
    ("logging/", "logging"),
)


@dataclass
class Profile:
    samples: int = 0
    self_time: Counter[str] = field(default_factory=Counter)
    total_time: Counter[str] = field(default_factory=Counter)
    layer_self: Counter[str] = field(default_factory=Counter)
    layer_total: Counter[str] = field(default_factory=Counter)


def layer_of(frame: str) -> str:
    if frame == EVENT_LOOP:
        return "event loop (C)"
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    for needle, layer in LAYERS:
        if needle in path:
            return layer
    return "other (stdlib, C)"


def parse_line(line: str) -> tuple[list[str], int] | None:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    if not stack or not count.isdigit():
        return None
    return [f for f in stack.split(";") if f], int(count)


def strip_root(frames: list[str]) -> list[str]:
    """The frames above the event loop: drop the process's startup frames (runpy, main,
    uvicorn.run, asyncio.Runner), which are on every stack and say nothing. A sample whose
    innermost frame is the loop itself was busy in the loop's C code (uvloop, syscalls)."""
    cut = -1
    for i, frame in enumerate(frames):
        if frame.startswith(ROOT_MARKERS):
            cut = i
    if cut == len(frames) - 1:
        return [EVENT_LOOP]
    return frames[cut + 1 :]


def add_sample(profile: Profile, frames: list[str], count: int) -> None:
    frames = strip_root(frames)
    profile.samples += count
    profile.self_time[frames[-1]] += count
    profile.layer_self[layer_of(frames[-1])] += count
    for frame in set(frames):
        profile.total_time[frame] += count
    for layer in {layer_of(f) for f in frames}:
        profile.layer_total[layer] += count


def load(path: Path) -> Profile:
    profile = Profile()
    for line in path.read_text(errors="replace").splitlines():
        parsed = parse_line(line)
        if parsed is not None and parsed[0] and not parsed[0][-1].startswith(IDLE_WAITS):
            add_sample(profile, *parsed)
    return profile


def _ranked(title: str, counts: Counter[str], samples: int, top: int) -> list[str]:
    lines = [title]
    for name, count in counts.most_common(top):
        lines.append(f"  {100 * count / samples:6.1f}%  {count:>7}  {name}")
    return lines


def render(profile: Profile, top: int = 25) -> str:
    if not profile.samples:
        return "no samples (is the proxy busy? did the profiler attach?)"
    n = profile.samples
    parts = [
        f"{n} busy samples",
        "",
        *_ranked("Self time by layer (innermost frame's package):", profile.layer_self, n, top),
        "",
        *_ranked("Total time by layer (any frame of it on the stack; layers nest):", profile.layer_total, n, top),
        "",
        *_ranked(f"Top {top} functions by self time:", profile.self_time, n, top),
        "",
        *_ranked(f"Top {top} functions by total (inclusive) time:", profile.total_time, n, top),
    ]  # fmt: skip
    return "\n".join(parts)
