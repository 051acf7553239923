"""python -m proxy status [--url URL] [--admin-key KEY] [--json]: GET /admin/status as a table.

The admin key comes from $PROXY_ADMIN_KEY (or --admin-key, which other local users can see
in the process list); it is sent, never printed. The default URL is the proxy's usual one,
http://127.0.0.1:$PROXY_PORT (8080); with `admin.port` set, pass the admin port's URL.
Exit status: 0 with the table; 1 with a one-line message on stderr when the proxy cannot be
reached or refuses (401, 403, 404, ...); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from typing import Any

import httpx

TIMEOUT = 5.0
Row = list[str]
# ATTEMPTS: upstream attempts in flight; FAILS: consecutive failures while closed.
PROVIDER_COLUMNS = [
    *("PROVIDER", "TYPE", "USABLE", "BREAKER", "FAILS"),
    *("COOLDOWN", "ATTEMPTS", "POOL", "LAST ERROR"),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    port = os.environ.get("PROXY_PORT", "8080")
    parser = argparse.ArgumentParser(prog="python -m proxy status", description=__doc__)
    parser.add_argument(
        "--url",
        default=os.environ.get("PROXY_STATUS_URL", f"http://127.0.0.1:{port}"),
        help="the proxy (or its admin port), default $PROXY_STATUS_URL or "
        "http://127.0.0.1:$PROXY_PORT (8080)",
    )
    parser.add_argument(
        "--admin-key",
        default=os.environ.get("PROXY_ADMIN_KEY"),
        help="admin.api_key (default $PROXY_ADMIN_KEY; prefer the variable)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON instead")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds (default 5)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    url = args.url.rstrip("/") + "/admin/status"
    try:
        body = fetch(url, args.admin_key, args.timeout)
    except StatusError as exc:
        print(f"proxy status: {exc}", file=sys.stderr)
        return 1
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render(body, time.time()))
    return 0


class StatusError(Exception):
    """Why there is no status to show, in one line (never the key)."""


def fetch(url: str, admin_key: str | None, timeout: float) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {admin_key}"} if admin_key else {}
    try:
        # trust_env=False: an HTTP(S)_PROXY from the environment must not see the admin key.
        response = httpx.get(url, headers=headers, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        raise StatusError(f"cannot reach {url}: {type(exc).__name__}") from None
    if response.status_code == 401:
        hint = "wrong" if admin_key else "missing: set PROXY_ADMIN_KEY"
        raise StatusError(f"{url} answered 401: the admin key is {hint}")
    if response.status_code == 404:
        raise StatusError(
            f"{url} answered 404: not served here (with admin.port set, use that port's URL)"
        )
    try:
        body = response.json()
    except ValueError:
        raise StatusError(f"{url} answered {response.status_code} without JSON") from None
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        text = " ".join(str(message).split()) if message else "(no message)"  # one line
        raise StatusError(f"{url} answered {response.status_code}: {text}")
    if not isinstance(body, dict) or "providers" not in body:
        raise StatusError(f"{url} answered 200 but not with a proxy status")
    return body


# --- the table -----------------------------------------------------------------------------


def render(status: dict[str, Any], now: float) -> str:
    """The status as text for a terminal; `now` (wall clock) turns times into ages."""
    worker = status["worker"]
    config = status["config"]
    mode = "DRAINING" if status["draining"] else "serving"
    head = [
        f"llm-proxy {status['version']}  worker pid {worker['pid']} (of {worker['workers']})"
        f"  up {duration(status['uptime_seconds'])}  {mode}"
        f"  {status['in_flight_requests']} requests in flight",
        f"config sha256 {config['sha256'][:12]}  loaded {config['loaded_at']}"
        f" ({ago(config['loaded_at'], now)})",
    ]
    providers = [list(PROVIDER_COLUMNS)]
    providers += [_provider_row(name, p, now) for name, p in status["providers"].items()]
    models = [["MODEL", "DEPLOYMENTS IN ORDER"]]
    models += [[name, _deployments(ds)] for name, ds in status["models"].items()]
    return "\n".join([*head, "", table(providers), "", table(models)]) + "\n"


def _provider_row(name: str, p: dict[str, Any], now: float) -> Row:
    breaker = p["breaker"]
    if breaker is None:  # disabled: its environment variables are unset
        missing = ", ".join(p["missing_vars"]) or "-"
        return [name, p["type"], "no", f"disabled (unset: {missing})", "-", "-", "-", "-", "-"]
    state = f"{breaker['state']} for {since(breaker['since'], now)}"
    if breaker["open_seconds_left"] > 0:
        state += f", {duration(breaker['open_seconds_left'])} left"
    cooldown = p["cooldown"]
    cooling = "-"
    if cooldown is not None:
        cooling = f"{duration(cooldown['seconds_left'])} left: {cooldown['reason']}"
    pool = p["pool"]
    pool_text = f"{pool['in_use']}/{pool['limit']}"
    if pool["waiting"]:
        pool_text += f" +{pool['waiting']} queued"
    error = p["last_error"]
    last = "-" if error is None else f"{error['outcome']} {ago(error['at'], now)}"
    usable = "yes" if p["usable"] else "no"
    fails = str(breaker["consecutive_failures"])
    attempts = str(p["in_flight_attempts"])
    return [name, p["type"], usable, state, fails, cooling, attempts, pool_text, last]


def _deployments(deployments: list[dict[str, Any]]) -> str:
    parts = [
        f"{d['provider']}/{d['model']} ({'ok' if d['usable'] else 'down'})" for d in deployments
    ]
    return " > ".join(parts) or "-"


def table(rows: list[Row]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def duration(seconds: float) -> str:
    """3.2s, 4m05s, 2h03m, 3d04h: short, for a table cell."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes}m{secs:02d}s"
    days, hours = divmod(hours, 24)
    return f"{hours}h{minutes:02d}m" if days == 0 else f"{days}d{hours:02d}h"


def since(rfc3339: str, now: float) -> str:
    at = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    return duration(max(0.0, now - at))


def ago(rfc3339: str, now: float) -> str:
    return f"{since(rfc3339, now)} ago"
