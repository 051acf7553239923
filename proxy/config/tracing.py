"""The `tracing:` section: OpenTelemetry export, off by default.

Where spans go (endpoint, headers), the service name, the sampler and resource attributes
come from the standard OTEL_* environment variables, read by the OpenTelemetry SDK itself;
this section only switches tracing on and says whether content may be recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.config.values import boolean, mapping, number, reject_unknown


@dataclass(frozen=True)
class TracingConfig:
    enabled: bool = False
    # Prompt and completion text on spans: off, since it is the caller's data.
    capture_content: bool = False
    # On shutdown, how long the spans still queued may take to export (an unreachable
    # collector must not hold the process past its drain deadline).
    flush_timeout: float = 2.0


def parse_tracing(raw: Any) -> TracingConfig:
    data = mapping(raw if raw is not None else {}, "tracing")
    reject_unknown(data, "tracing", {"enabled", "capture_content", "flush_timeout"})
    return TracingConfig(
        enabled=boolean(data, "enabled", "tracing", False),
        capture_content=boolean(data, "capture_content", "tracing", False),
        flush_timeout=number(data, "flush_timeout", "tracing", 2.0, 0.0),
    )
