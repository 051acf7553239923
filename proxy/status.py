"""GET /admin/status: what an operator needs to see at a glance, as JSON.

Built on demand from what the proxy already keeps (the Gateway's current state, the
lifecycle, each provider's health and pool gate), so serving requests costs nothing extra.
Never a key: no URL, header or secret is read here, only names, types, counters and times.
Wall-clock times are RFC 3339 UTC strings; durations are seconds. With `--workers N` every
worker answers for itself: `worker.pid` says which one did.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

from proxy import __version__

if TYPE_CHECKING:
    from proxy.breakers import HealthSnapshot
    from proxy.config import Config
    from proxy.router import Route
    from proxy.state import AppState, Gateway

STARTED = time.monotonic()  # process start, near enough: imported while the app is built


class Worker(TypedDict):
    pid: int
    workers: int


class ConfigInfo(TypedDict):
    sha256: str
    loaded_at: str


class Breaker(TypedDict):
    state: str
    since: str
    reason: str
    consecutive_failures: int
    open_seconds_left: float


class Cooldown(TypedDict):
    seconds_left: float
    reason: str


class Pool(TypedDict):
    in_use: int
    limit: int
    waiting: int


class LastError(TypedDict):
    outcome: str
    at: str


class ProviderStatus(TypedDict):
    type: str
    enabled: bool
    usable: bool
    missing_vars: list[str]  # names of unset environment variables (never their values)
    breaker: Breaker | None
    cooldown: Cooldown | None
    in_flight_attempts: int
    pool: Pool | None
    last_error: LastError | None


class DeploymentStatus(TypedDict):
    provider: str
    model: str
    usable: bool


class Status(TypedDict):
    version: str
    worker: Worker
    uptime_seconds: float
    draining: bool
    in_flight_requests: int
    config: ConfigInfo
    providers: dict[str, ProviderStatus]
    models: dict[str, list[DeploymentStatus]]


def rfc3339(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def build(gateway: Gateway) -> Status:
    state = gateway.state
    assert state is not None  # set in the lifespan, before any request
    now = time.time()
    providers = _providers(state, now)
    life = gateway.lifecycle
    return {
        "version": __version__,
        "worker": {"pid": os.getpid(), "workers": int(os.environ.get("PROXY_WORKERS", "1"))},
        "uptime_seconds": round(time.monotonic() - STARTED, 3),
        "draining": life.draining,
        "in_flight_requests": life.in_flight,
        "config": {"sha256": state.config.digest, "loaded_at": rfc3339(state.loaded_at)},
        "providers": providers,
        "models": _models(state.config, providers),
    }


def _providers(state: AppState, now: float) -> dict[str, ProviderStatus]:
    out: dict[str, ProviderStatus] = {}
    for name, provider in state.config.providers.items():
        route = state.routes.get(name)
        entry: ProviderStatus = {
            "type": provider.type,
            "enabled": route is not None,
            "usable": False,
            "missing_vars": list(provider.missing_vars),
            "breaker": None,
            "cooldown": None,
            "in_flight_attempts": 0,
            "pool": None,
            "last_error": None,
        }
        if route is not None:
            _fill(entry, route, now)
        out[name] = entry
    return out


def _fill(entry: ProviderStatus, route: Route, now: float) -> None:
    health = route.health.snapshot()
    in_use, waiting = route.upstream.pool_usage()
    entry["usable"] = health.usable
    entry["breaker"] = {
        "state": health.state,
        "since": rfc3339(now - health.state_age),
        "reason": health.state_reason,
        "consecutive_failures": health.consecutive_failures,
        "open_seconds_left": _seconds(health.open_seconds_left),
    }
    if health.cooldown_reason is not None:
        entry["cooldown"] = {
            "seconds_left": _seconds(health.cooldown_seconds_left),
            "reason": health.cooldown_reason,
        }
    entry["in_flight_attempts"] = health.in_flight
    entry["pool"] = {"in_use": in_use, "limit": route.upstream.max_connections, "waiting": waiting}
    entry["last_error"] = _last_error(health, now)


def _last_error(health: HealthSnapshot, now: float) -> LastError | None:
    if health.last_error is None or health.last_error_age is None:
        return None
    return {"outcome": health.last_error, "at": rfc3339(now - health.last_error_age)}


def _models(
    config: Config, providers: dict[str, ProviderStatus]
) -> dict[str, list[DeploymentStatus]]:
    return {
        model: [
            {"provider": d.provider, "model": d.model, "usable": providers[d.provider]["usable"]}
            for d in deployments
        ]
        for model, deployments in config.models.items()
    }


def _seconds(value: float) -> float:
    return round(value, 3)
