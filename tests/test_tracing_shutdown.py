"""proxy/tracing.py at shutdown: a collector that never answers cannot hold the process
past tracing.flush_timeout (the SDK's own shutdown blocks while it retries)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from proxy.tracing import Tracing


async def test_aclose_returns_while_the_export_still_hangs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    tracing = Tracing()
    release, entered = threading.Event(), threading.Event()

    def stuck() -> None:  # an export to a collector that never answers
        entered.set()
        release.wait(30)

    monkeypatch.setattr(tracing._provider, "shutdown", stuck)
    try:
        await asyncio.wait_for(tracing.aclose(0.05), timeout=10)
        assert entered.is_set()
    finally:
        release.set()
