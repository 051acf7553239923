"""The `tracing:` section (proxy/config/tracing.py) and server.max_request_models."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, parse_config
from proxy.config.server import parse_server
from proxy.config.tracing import TracingConfig, parse_tracing

MINIMAL = """providers:
  p: {type: mock}
models:
  m: [{provider: p, model: x}]
auth: {disabled: true}
"""


def test_off_by_default() -> None:
    assert parse_tracing(None) == TracingConfig(
        enabled=False, capture_content=False, flush_timeout=2.0
    )
    assert parse_config(MINIMAL, {}).tracing == TracingConfig()


def test_values_are_read() -> None:
    config = parse_config(MINIMAL + "tracing: {enabled: true, capture_content: true}\n", {})
    assert config.tracing == TracingConfig(enabled=True, capture_content=True)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"enabled": "yes"}, "tracing.enabled: expected true or false"),
        ({"capture_content": 1}, "tracing.capture_content: expected true or false"),
        ({"endpoint": "http://x"}, "tracing"),  # where spans go is OTEL_* variables' job
        ([1], "tracing"),
        ({"flush_timeout": -1}, "tracing.flush_timeout: expected a value >= 0"),
    ],
)
def test_bad_values_name_their_path(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_tracing(raw)


def test_max_request_models() -> None:
    assert parse_server(None).max_request_models == 8
    assert parse_server({"max_request_models": 2}).max_request_models == 2
    with pytest.raises(ConfigError, match=r"server\.max_request_models: expected a value >= 1"):
        parse_server({"max_request_models": 0})


@pytest.mark.parametrize("name", ["traceparent", "TraceState"])
def test_a_provider_cannot_configure_trace_headers(name: str) -> None:
    """They are the attempt span's when tracing is on: a fixed one would be sent twice."""
    text = MINIMAL.replace("p: {type: mock}", f"p: {{type: mock, headers: {{{name}: x}}}}")
    with pytest.raises(ConfigError, match=rf"providers\.p\.headers\.{name}: set by the proxy"):
        parse_config(text, {})
