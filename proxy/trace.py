"""One request's account: timings, attempts, tokens, outcome -> metrics and one log line.

The endpoint opens a trace when a chat request arrives; it is finished exactly once, by
the endpoint for a non-stream answer or an error, or by the stream pump when the stream
ends, so a stream's line carries its real outcome and tokens.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from proxy import metrics
from proxy.config import Price
from proxy.errors import Attempt
from proxy.logs import log_fields
from proxy.providers.base import Usage

if TYPE_CHECKING:
    from proxy.tracing_span import RequestSpan

log = logging.getLogger("proxy.access")


@dataclass
class RequestTrace:
    model: str  # a public model name from the routing table, or metrics.OTHER
    stream: bool
    start: float = field(default_factory=time.perf_counter)
    provider: str = "none"
    upstream_model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    upstream_seconds: float = 0.0  # time spent waiting on upstreams before the answer began
    first_byte: float | None = None  # perf_counter when a stream's first byte was sent
    usage: Usage | None = None
    price: Price | None = None
    outcome: str = "ok"
    key: str | None = None  # the caller's key name when the config has named keys
    rate_headers: tuple[tuple[bytes, bytes], ...] = ()  # x-ratelimit-* for the answer
    client_disconnected: bool = False
    finished: bool = False
    # Cacheable models only (proxy/cache): hit | miss | bypass | coalesced. A hit or a
    # coalesced answer made no upstream call: limits and budgets must not charge it.
    cache: str | None = None
    span: RequestSpan | None = None  # only with tracing on (proxy/tracing.py)
    # Per-request routing preferences (the body's `models`, the x-proxy-route header).
    models: tuple[str, ...] | None = None
    route: str | None = None

    def mark_first_byte(self) -> None:
        self.first_byte = time.perf_counter()
        if self.span is not None:  # tracing on: the attempt's time to first chunk
            self.span.first_chunk(self.first_byte - self.start)

    def finish(self, status: int) -> None:
        if self.finished:
            return
        self.finished = True
        now = time.perf_counter()
        duration = now - self.start
        metrics.observe_request(self.model, self.provider, status, duration)
        answered_at = self.first_byte if self.first_byte is not None else now
        metrics.observe_overhead(answered_at - self.start - self.upstream_seconds)
        ttft = None
        if self.first_byte is not None:
            ttft = self.first_byte - self.start
            metrics.observe_ttft(self.model, self.provider, ttft)
        cost = 0.0
        if self.usage is not None:
            if self.price is not None:
                u = self.usage
                cost = self.price.cost(u.prompt, u.completion, u.cached)
            metrics.observe_usage(self.model, self.provider, self.usage, cost)
        if self.key is not None:
            metrics.observe_key(self.key, self.model, status, self.usage, cost)
        if self.client_disconnected:
            metrics.observe_disconnect(self.model)
        self._log(status, duration, ttft, cost)
        if self.span is not None:
            self.span.finish(self, status)

    def _log(self, status: int, duration: float, ttft: float | None, cost: float) -> None:
        fields: dict[str, object] = {
            "key": self.key or "-",
            "model": self.model,
            "provider": self.provider,
            "upstream_model": self.upstream_model,
            "stream": self.stream,
            "status": status,
            "outcome": self.outcome,
            "attempts": [{"provider": a.provider, "outcome": a.outcome} for a in self.attempts],
            "duration_ms": round(duration * 1000, 2),
            "upstream_ms": round(self.upstream_seconds * 1000, 2),
            "client_disconnected": self.client_disconnected,
        }
        if ttft is not None:
            fields["ttft_ms"] = round(ttft * 1000, 2)
        if self.usage is not None:
            fields["tokens"] = {
                "prompt": self.usage.prompt,
                "completion": self.usage.completion,
                "cached": self.usage.cached,
                "reasoning": self.usage.reasoning,
            }
        if cost:
            fields["cost_usd"] = round(cost, 8)
        if self.cache is not None:
            fields["cache"] = self.cache
        if self.models is not None:
            fields["models"] = list(self.models)
        if self.route is not None:
            fields["route"] = self.route
        if self.span is not None and log.isEnabledFor(logging.INFO):  # not formatted unread
            fields["trace_id"], fields["span_id"] = self.span.ids()
        log_fields(log, logging.INFO, "request", **fields)
