"""The SSE decoder's bounds (issue 10.11, 16.8): one event, however it is split into lines
and reads, may not exceed the bound; a long line arriving in many reads is still bounded."""

from __future__ import annotations

import pytest

from proxy.sse import SSEDecoder, SSEEvent, SSEProtocolError


def test_an_event_of_many_short_data_lines_is_bounded() -> None:
    decoder = SSEDecoder(max_line=100)
    with pytest.raises(SSEProtocolError):
        decoder.feed(b"data: " + b"x" * 40 + b"\n" + b"data: " + b"y" * 40 + b"\n" * 1)
        decoder.feed(b"data: " + b"z" * 40 + b"\n\n")


def test_a_line_arriving_in_many_reads_is_bounded_before_it_ends() -> None:
    decoder = SSEDecoder(max_line=100)
    decoder.feed(b"data: ")
    with pytest.raises(SSEProtocolError):
        for _ in range(20):
            decoder.feed(b"x" * 10)  # no line break yet: refused once past the bound


@pytest.mark.parametrize("read", [1, 3, 64, 1 << 20])
def test_a_large_event_within_the_bound_decodes_in_any_split(read: int) -> None:
    data = b'data: {"x": "' + b"y" * 5000 + b'"}\r\n\r\n: ping\n\n'
    decoder = SSEDecoder(max_line=6000)
    events: list[SSEEvent] = []
    for i in range(0, len(data), read):
        events += decoder.feed(data[i : i + read])
    events += decoder.flush()
    assert events == [SSEEvent('{"x": "' + "y" * 5000 + '"}')]
