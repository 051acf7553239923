"""The cache's Prometheus collectors (issue 12), beside the proxy's own in proxy/metrics.py
and switched off with them (`admin.metrics: false`). `model` is a public model name."""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Gauge

from proxy.metrics import SWITCH

CacheResult = Literal["hit", "miss", "bypass", "coalesced"]

REQUESTS = Counter(
    "proxy_cache_requests_total",
    "Requests to cacheable models, by cache result",
    ["model", "result"],
)
BYTES = Gauge(
    "proxy_cache_bytes", "Bytes held by the memory cache backend", multiprocess_mode="livesum"
)
EVICTIONS = Counter("proxy_cache_evictions_total", "Entries evicted to keep cache.max_bytes")
SAVED = Counter(
    "proxy_cache_saved_usd_total", "Spend avoided by cache hits (configured prices)", ["model"]
)
_requests: dict[tuple[str, str], Counter] = {}


def observe_result(model: str, result: CacheResult, saved_usd: float = 0.0) -> None:
    if not SWITCH.enabled:
        return
    child = _requests.get((model, result))
    if child is None:
        child = _requests[model, result] = REQUESTS.labels(model, result)
    child.inc()
    if saved_usd:
        SAVED.labels(model).inc(saved_usd)


def observe_eviction() -> None:
    if SWITCH.enabled:
        EVICTIONS.inc()


def set_bytes(total: int) -> None:
    if SWITCH.enabled:
        BYTES.set(total)
