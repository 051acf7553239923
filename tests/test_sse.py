from __future__ import annotations

import pytest

from proxy.sse import SSEDecoder, SSEEvent, SSEProtocolError

TRANSCRIPT = (
    b'event: message_start\ndata: {"a": 1}\n\n: ping\n\ndata: line1\ndata: line2\n\nevent: x\n'
)


def decode_all(data: bytes, split: int) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for i in range(0, len(data), split):
        events += decoder.feed(data[i : i + split])
    return events + decoder.flush()


@pytest.mark.parametrize("split", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_decoder_any_split_any_line_ending(split: int, eol: bytes) -> None:
    events = decode_all(TRANSCRIPT.replace(b"\n", eol), split)
    assert events == [SSEEvent('{"a": 1}', "message_start"), SSEEvent("line1\nline2")]


def test_final_event_without_blank_line_is_dispatched() -> None:
    assert decode_all(b"data: [DONE]", 4) == [SSEEvent("[DONE]")]


def test_line_cap() -> None:
    decoder = SSEDecoder(max_line=100)
    with pytest.raises(SSEProtocolError):
        decoder.feed(b"data: " + b"x" * 200)


def test_json_errors_are_protocol_errors() -> None:
    with pytest.raises(SSEProtocolError):
        SSEEvent("{nope").json()
