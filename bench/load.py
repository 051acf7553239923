"""Closed-loop HTTP load generator: `python -m bench.load --url URL --concurrency 32 ...`.

N workers share one aiohttp session; each sends its next request as soon as the previous
one has finished. After `--warmup` seconds it prints `start`, measures for `--duration`
seconds, prints `end` (the parent reads the proxy's CPU counters at those two lines), then
waits for in-flight requests and prints one JSON line of results.

A request counts as done when its whole 200 JSON body has been read, or, for a stream,
when `data: [DONE]` has been read (the rest of the response is then drained so the
connection can be reused). Latency is measured from just before the send to that moment.
Throughput counts the requests that complete inside the window; latency percentiles use
those of them that also began inside it (a request sent during warm-up, into cold connection
pools, is warm-up); errors are counted over the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import aiohttp

DONE = b"data: [DONE]"
MESSAGE_STOP = b"event: message_stop"
RESPONSE_COMPLETED = b"event: response.completed"
DRAIN_TIMEOUT = 15.0
REQUEST_TIMEOUT = 30.0
ERROR_PAUSE = 0.01  # after an exception, so a refused connection does not spin the loop


@dataclass(frozen=True)
class Target:
    url: str
    body: bytes
    headers: dict[str, str]
    stream: bool
    done: bytes = DONE  # what ends a stream: [DONE], or message_stop on /v1/messages


@dataclass
class Window:
    """The measurement window and everything observed in it."""

    measuring: bool = False
    stopping: bool = False
    start: float = 0.0
    end: float = 0.0
    completed: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    window_errors: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0


def make_target(url: str, api_key: str, model: str, stream: bool, surface: str = "chat") -> Target:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    body["stream"] = stream
    headers = {"content-type": "application/json", "authorization": f"Bearer {api_key}"}
    done = DONE
    if surface == "messages":  # Anthropic Messages: max_tokens required, its own headers
        body["max_tokens"] = 256
        headers = {"content-type": "application/json", "x-api-key": api_key}
        headers["anthropic-version"] = "2023-06-01"
        done = MESSAGE_STOP
    if surface == "responses":  # OpenAI Responses: `input`, ends with response.completed
        body = {"model": model, "input": "hi", "stream": stream}
        done = RESPONSE_COMPLETED
    return Target(url, json.dumps(body, separators=(",", ":")).encode(), headers, stream, done)


async def read_until_done(response: aiohttp.ClientResponse, done: bytes = DONE) -> float | None:
    """Read a stream; the time its end marker arrived, or None if it never did."""
    done_at: float | None = None
    tail = b""
    async for chunk in response.content.iter_any():
        if done_at is None:
            seen = tail + chunk
            if done in seen:
                done_at = perf_counter()
            tail = seen[-len(done) :]
    return done_at


async def send(session: aiohttp.ClientSession, target: Target) -> tuple[str, float | None]:
    """One request: (outcome, completion time); the time is None unless it succeeded."""
    async with session.post(target.url, data=target.body, headers=target.headers) as response:
        if response.status != 200:
            await response.read()
            return f"http_{response.status}", None
        if target.stream:
            done_at = await read_until_done(response, target.done)
            return ("ok", done_at) if done_at is not None else ("no_done", None)
        body = await response.read()
        return ("ok", perf_counter()) if body[:1] == b"{" else ("bad_body", None)


async def attempt(session: aiohttp.ClientSession, target: Target) -> tuple[str, float | None]:
    try:
        return await send(session, target)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await asyncio.sleep(ERROR_PAUSE)
        return type(exc).__name__, None


def record(window: Window, outcome: str, began: float, done_at: float | None) -> None:
    if done_at is not None:
        if window.measuring:
            window.completed += 1
            if began >= window.start:
                window.latencies.append(done_at - began)
        return
    window.errors += 1
    window.failures[outcome] += 1
    if window.measuring:
        window.window_errors += 1


async def worker(session: aiohttp.ClientSession, target: Target, window: Window) -> None:
    while not window.stopping:
        began = perf_counter()
        outcome, done_at = await attempt(session, target)
        record(window, outcome, began, done_at)


async def mark_window(window: Window, warmup: float, duration: float) -> None:
    """Open and close the window, telling the parent process on stdout."""
    await asyncio.sleep(warmup)
    window.start = perf_counter()
    cpu = time.process_time()
    window.measuring = True
    print("start", flush=True)
    await asyncio.sleep(duration)
    window.measuring = False
    window.end = perf_counter()
    window.cpu_seconds = time.process_time() - cpu
    print("end", flush=True)
    window.stopping = True


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(window: Window) -> dict[str, Any]:
    ordered = sorted(window.latencies)
    seconds = window.end - window.start
    ms = 1000.0
    return {
        "requests": window.completed,
        "seconds": seconds,
        "rps": window.completed / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile(ordered, 0.50) * ms,
        "p90_ms": percentile(ordered, 0.90) * ms,
        "p99_ms": percentile(ordered, 0.99) * ms,
        "max_ms": (ordered[-1] * ms) if ordered else float("nan"),
        "mean_ms": (sum(ordered) / len(ordered) * ms) if ordered else float("nan"),
        "errors": window.errors,
        "window_errors": window.window_errors,
        "failures": dict(window.failures),
        "loader_cpu_s": window.cpu_seconds,
    }


def new_session(concurrency: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, ttl_dns_cache=None)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    )


async def drain(workers: list[asyncio.Task[None]]) -> None:
    _, pending = await asyncio.wait(workers, timeout=DRAIN_TIMEOUT)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def run(target: Target, concurrency: int, warmup: float, duration: float) -> dict[str, Any]:
    window = Window()
    async with new_session(concurrency) as session:
        workers = [asyncio.create_task(worker(session, target, window)) for _ in range(concurrency)]
        await mark_window(window, warmup, duration)
        await drain(workers)
    result = summary(window)
    result["concurrency"] = concurrency
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--url", required=True, help="full chat completions URL")
    parser.add_argument("--api-key", default="bench-not-a-secret")
    parser.add_argument("--model", default="gpt")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--surface", choices=["chat", "messages", "responses"], default="chat")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    target = make_target(args.url, args.api_key, args.model, args.stream, args.surface)
    coro = run(target, args.concurrency, args.warmup, args.duration)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
