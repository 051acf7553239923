"""proxy/sse.py encode_named_events: `event: <type>` + `data: <json>` framing."""

from __future__ import annotations

from typing import Any

from proxy.sse import SSEDecoder, encode_named_events


def test_named_events_round_trip_through_our_decoder() -> None:
    events: list[dict[str, Any]] = [
        {"type": "response.created", "n": 1},
        {"type": "response.completed", "s": "a\nb"},
    ]
    wire = encode_named_events(events)
    assert wire.startswith(b"event: response.created\ndata: {")
    decoded = SSEDecoder().feed(wire)
    assert [(e.event, e.json()) for e in decoded] == [(e["type"], e) for e in events]


def test_no_events_no_bytes() -> None:
    assert encode_named_events([]) == b""
