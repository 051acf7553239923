"""`python -m bench.instructions`: machine instructions the proxy executes per request, counted
by valgrind's callgrind, for comparing two checkouts without the noise of a shared machine.

CPU time per request (`python -m bench`) moves by 10-20% from run to run on a busy or
virtualised machine; an instruction count does not depend on the clock, the other core or
the neighbours, so a change of 1-2% between two checkouts is visible in one run of each.
It is not a speed: cache misses, syscalls' kernel time and waits are not in it. Use it beside
the side-by-side CPU figures, not instead of them.

The proxy runs under `valgrind --tool=callgrind` (about 50 times slower) with instrumentation
off until it is ready; `--warmup` requests are sent (filling connection pools and caches), the
counters are zeroed, exactly `--requests` requests are sent at `--concurrency`, and the count
is dumped. Instructions per request = total / requests. The fake upstream and the client run
natively. Run it from the checkout to measure, with any virtualenv that has the bench's
dependencies:

    cd ../other-checkout && /path/to/.venv/bin/python -m bench.instructions

Needs valgrind (Debian: `apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

from bench import stack as bench_stack
from bench.load import make_target, send
from bench.stack import start_proxy, start_upstream

SURFACES = {
    "chat": "/v1/chat/completions",
    "messages": "/v1/messages",
    "responses": "/v1/responses",
}
_TOTAL = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="counted requests per mode")
    parser.add_argument("--warmup", type=int, default=300, help="uncounted requests first")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--surface", choices=sorted(SURFACES), default="chat")
    parser.add_argument("--modes", default="non-stream,stream", help="comma list")
    parser.add_argument("--extra-config", default="", help="YAML appended to the bench config")
    parser.add_argument(
        "--keep", type=Path, help="copy the callgrind dumps here (for callgrind_annotate)"
    )
    return parser.parse_args(argv)


async def drive(url: str, stream: bool, surface: str, count: int, concurrency: int) -> None:
    """Exactly `count` requests, `concurrency` at a time; any failure stops the run."""
    # Chat is passed positionally: older checkouts' make_target has no `surface`.
    extra = (surface,) if surface != "chat" else ()
    target = make_target(url, bench_stack.CLIENT_KEY, "gpt", stream, *extra)
    remaining = count
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                outcome, _ = await send(session, target)
                if outcome != "ok":
                    raise RuntimeError(f"request failed: {outcome}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def callgrind_control(option: str, pid: int) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True)


def dumped_total(out_dir: Path) -> int:
    """The instruction total of the newest dump (callgrind numbers them .1, .2, ...)."""
    dumps = sorted(out_dir.glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
    match = _TOTAL.search(dumps[-1].read_bytes()) if dumps else None
    if match is None:
        raise RuntimeError(f"no callgrind dump with a total in {out_dir}")
    return int(match.group(1))


def count_mode(pid: int, url: str, stream: bool, args: argparse.Namespace, out: Path) -> float:
    asyncio.run(drive(url, stream, args.surface, args.warmup, args.concurrency))
    callgrind_control("--zero", pid)
    asyncio.run(drive(url, stream, args.surface, args.requests, args.concurrency))
    callgrind_control("--dump", pid)
    return dumped_total(out) / args.requests


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    bench_stack.READY_TIMEOUT = 600.0  # Python starts slowly under valgrind
    with tempfile.TemporaryDirectory(prefix="bench-ir-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        out = workdir / "cg"
        out.mkdir()
        launcher = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",  # native speed until the proxy is up
            f"--callgrind-out-file={out}/callgrind.out",
            sys.executable,
            "-m",
        ]
        upstream = start_upstream(stack, workdir, 20, 0.0)
        # Only with --extra-config: older checkouts' start_proxy has no such parameter.
        config = {"extra_config": args.extra_config} if args.extra_config else {}
        proxy = start_proxy(stack, workdir, upstream, launcher, **config)
        callgrind_control("--instr=on", proxy.pid)
        url = f"http://127.0.0.1:{proxy.port}{SURFACES[args.surface]}"
        for mode in args.modes.split(","):
            per_request = count_mode(proxy.pid, url, mode == "stream", args, out)
            print(
                f"{args.surface} {mode:<10} {args.concurrency} concurrent: "
                f"{per_request / 1e6:8.3f} M instructions per request "
                f"({args.requests} requests after {args.warmup})",
                flush=True,
            )
        if args.keep is not None:
            shutil.copytree(out, args.keep, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
