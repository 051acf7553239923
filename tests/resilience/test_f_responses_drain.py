"""Checklist F1 on /v1/responses: a stream cut by the drain deadline ends with the
surface's terminal event, `response.failed`, never a bare TCP cut nor `response.completed`.
Runs `python -m proxy` (signals reach only a main thread); the process is ended by its pid."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CLIENT_KEY
from tests.resilience.test_f_lifecycle import LIFECYCLE_CONFIG, PROMPT, ProxyProcess


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    process = ProxyProcess(tmp_path, LIFECYCLE_CONFIG)  # `stream`: 100 chunks, 200 ms apart
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_drained_responses_stream_ends_with_response_failed(proxy: ProxyProcess) -> None:
    body = {"model": "stream", "input": PROMPT, "stream": True}
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    events: list[dict[str, Any]] = []
    with httpx.stream(
        "POST", f"{proxy.url}/v1/responses", json=body, headers=headers, timeout=15
    ) as answer:
        assert answer.status_code == 200
        for line in answer.iter_lines():  # bounded: the drain deadline ends the stream
            if not line.startswith("data: "):
                continue
            events.append(json.loads(line[6:]))
            if len(events) == 3:
                proxy.proc.send_signal(signal.SIGTERM)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.failed"
    assert "response.completed" not in kinds
    assert "shut" in events[-1]["response"]["error"]["message"].lower()
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
