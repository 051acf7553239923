"""Prometheus collectors and their label sets, defined once.

Labels are bounded: `model` is a public name from the routing table (anything else is
"other"), `provider` a configured provider name, and outcomes/reasons come from closed
vocabularies. Never a key, a user or a raw path. Children are bound once per label set
and cached, so the hot path does a dict lookup and an increment.

Under `--workers N` the CLI sets PROMETHEUS_MULTIPROC_DIR before any worker imports this
module, and /metrics aggregates every worker's files (prometheus-client multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from proxy.providers.base import Usage

OTHER = "other"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

REQUESTS = Counter(
    "proxy_requests_total", "Chat requests answered", ["model", "provider", "status"]
)
REQUEST_DURATION = Histogram(
    "proxy_request_duration_seconds", "End-to-end request time", ["model"], buckets=_LATENCY_BUCKETS
)
UPSTREAM_DURATION = Histogram(
    "proxy_upstream_duration_seconds",
    "Time spent waiting on one upstream attempt (to the full body, or a stream's first event)",
    ["provider"],
    buckets=_LATENCY_BUCKETS,
)
OVERHEAD = Histogram(
    "proxy_overhead_seconds",
    "Time spent in the proxy itself: end to end (a stream: to its first byte) minus upstream waits",
    buckets=_OVERHEAD_BUCKETS,
)
TTFT = Histogram(
    "proxy_time_to_first_token_seconds",
    "Stream: from request arrival to the first byte sent to the client",
    ["model", "provider"],
    buckets=_LATENCY_BUCKETS,
)
TOKENS = Counter("proxy_tokens_total", "Tokens spent", ["model", "provider", "kind"])
COST = Counter("proxy_cost_usd_total", "Spend from configured prices", ["model", "provider"])
FALLBACKS = Counter(
    "proxy_fallbacks_total",
    "Requests moved past a deployment",
    ["model", "from_provider", "reason"],
)
ATTEMPTS = Counter(
    "proxy_upstream_attempts_total", "Upstream attempts by outcome", ["provider", "outcome"]
)
UPSTREAM_ERRORS = Counter(
    "proxy_upstream_errors_total", "Failed upstream attempts", ["provider", "error_type"]
)
AUTH_FAILURES = Counter(
    "proxy_provider_auth_failures_total",
    "Upstream 401/403: the provider key is wrong or lacks rights",
    ["provider"],
)
BREAKER_STATE = Gauge(
    "proxy_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open",
    ["provider"],
    # "live": a dead worker's file stops counting once the supervisor marks it dead.
    multiprocess_mode="livemax",
)
BREAKER_TRANSITIONS = Counter(
    "proxy_breaker_transitions_total", "Breaker state changes", ["provider", "state"]
)
IN_FLIGHT = Gauge("proxy_in_flight_requests", "API requests in flight", multiprocess_mode="livesum")
CLIENT_DISCONNECTS = Counter(
    "proxy_client_disconnects_total", "Clients that went away before the answer", ["model"]
)
REJECTED = Counter("proxy_rejected_total", "Requests refused at admission", ["reason"])

BREAKER_LEVELS = {"closed": 0, "half-open": 1, "open": 2}

K = TypeVar("K")
C = TypeVar("C")


class _Bound(dict[Any, Any]):
    """Label children bound on first use and kept: one dict lookup per observation."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: Any) -> Any:
        child = self[key] = self._make(key)
        return child


_requests = _Bound(lambda k: REQUESTS.labels(*k))
_durations = _Bound(lambda m: REQUEST_DURATION.labels(m))
_upstream = _Bound(lambda p: UPSTREAM_DURATION.labels(p))
_ttft = _Bound(lambda k: TTFT.labels(*k))
_tokens = _Bound(lambda k: TOKENS.labels(*k))
_cost = _Bound(lambda k: COST.labels(*k))
_fallbacks = _Bound(lambda k: FALLBACKS.labels(*k))
_attempts = _Bound(lambda k: ATTEMPTS.labels(*k))
_errors = _Bound(lambda k: UPSTREAM_ERRORS.labels(*k))
_auth = _Bound(lambda p: AUTH_FAILURES.labels(p))
_disconnects = _Bound(lambda m: CLIENT_DISCONNECTS.labels(m))
_rejected = _Bound(lambda r: REJECTED.labels(r))


class _Switch:
    enabled = True


SWITCH = _Switch()


def set_enabled(enabled: bool) -> None:
    """`admin.metrics: false` turns every observation into a no-op (the bench measures both)."""
    SWITCH.enabled = enabled


def prebind(models: Iterable[str], providers: Iterable[str]) -> None:
    """Bind the common children at startup so they exist (at 0) before the first request."""
    for provider in providers:
        _upstream[provider]
        BREAKER_STATE.labels(provider).set(0)
    for model in [*models, OTHER]:
        _durations[model]
        _disconnects[model]
    for reason in ("overload", "draining"):
        _rejected[reason]


def observe_request(model: str, provider: str, status: int, seconds: float) -> None:
    if not SWITCH.enabled:
        return
    _requests[model, provider, str(status)].inc()
    _durations[model].observe(seconds)


def observe_overhead(seconds: float) -> None:
    if not SWITCH.enabled:
        return
    OVERHEAD.observe(max(seconds, 0.0))


def observe_ttft(model: str, provider: str, seconds: float) -> None:
    if not SWITCH.enabled:
        return
    _ttft[model, provider].observe(seconds)


def observe_usage(model: str, provider: str, usage: Usage, cost: float) -> None:
    if not SWITCH.enabled:
        return
    for kind, count in (
        ("prompt", usage.prompt),
        ("completion", usage.completion),
        ("cached", usage.cached),
        ("reasoning", usage.reasoning),
    ):
        if count:
            _tokens[model, provider, kind].inc(count)
    if cost:
        _cost[model, provider].inc(cost)


# Attempt endings that are not the provider's failure (the client's, or ours).
_NOT_UPSTREAM_ERRORS = frozenset(
    {"ok", "client_disconnect", "client_idle", "internal_error", "gateway_shutdown"}
)


def observe_attempt(provider: str, outcome: str, seconds: float | None) -> None:
    if not SWITCH.enabled:
        return
    _attempts[provider, outcome].inc()
    if seconds is not None:
        _upstream[provider].observe(seconds)
    if outcome not in _NOT_UPSTREAM_ERRORS:
        _errors[provider, outcome].inc()
    if outcome == "auth_failed":
        _auth[provider].inc()


def observe_upstream_duration(provider: str, seconds: float) -> None:
    if not SWITCH.enabled:
        return
    _upstream[provider].observe(seconds)


def observe_fallback(model: str, from_provider: str, reason: str) -> None:
    if not SWITCH.enabled:
        return
    _fallbacks[model, from_provider, reason].inc()


def observe_breaker(provider: str, state: str) -> None:
    BREAKER_STATE.labels(provider).set(BREAKER_LEVELS.get(state, 2))
    BREAKER_TRANSITIONS.labels(provider, state).inc()


def observe_disconnect(model: str) -> None:
    if not SWITCH.enabled:
        return
    _disconnects[model].inc()


def observe_rejected(reason: str) -> None:
    if not SWITCH.enabled:
        return
    _rejected[reason].inc()


def render() -> bytes:
    """The Prometheus text: this process's registry, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
