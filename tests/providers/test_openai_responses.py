"""The /v1/responses passthrough codec and its stream pipe (proxy/providers/openai_responses.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.errors import UpstreamError
from proxy.providers.base import StreamLimits, Usage
from proxy.providers.openai_responses import ResponsesPassthrough, ResponsesPassthroughPipe
from proxy.providers.pipes import FailedAfter

USAGE = {"input_tokens": 3, "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 1}}
RESPONSE = {"id": "resp_1", "object": "response", "status": "in_progress", "output": []}


def event(kind: str, number: int, **fields: Any) -> bytes:
    data = orjson.dumps({"type": kind, "sequence_number": number, **fields})
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


CREATED = event("response.created", 0, response=RESPONSE)
IN_PROGRESS = event("response.in_progress", 1, response=RESPONSE)
DELTA = event("response.output_text.delta", 2, delta="Hi", output_index=0, item_id="m")
COMPLETED = event(
    "response.completed", 3, response={**RESPONSE, "status": "completed", "usage": USAGE}
)
ERROR = event("error", 3, code="server_error", message="boom")


def pipe(max_precommit: int = 256 * 1024) -> ResponsesPassthroughPipe:
    return ResponsesPassthroughPipe("openai", StreamLimits(1024 * 1024, max_precommit))


def test_preamble_is_held_until_the_first_output_event_then_bytes_pass_untouched() -> None:
    p = pipe()
    assert p.feed(CREATED) == b""
    assert p.feed(IN_PROGRESS[:10]) == b""
    assert p.feed(IN_PROGRESS[10:]) == b""
    assert p.feed(DELTA) == CREATED + IN_PROGRESS + DELTA
    assert p.feed(COMPLETED) == COMPLETED
    assert p.finish() == b""
    assert p.usage == Usage(prompt=3, completion=2, reasoning=1)
    assert p.announced["status"] == "completed" and p.next_sequence == 4


def test_a_stream_cut_before_its_terminal_event_is_truncated() -> None:
    p = pipe()
    p.feed(CREATED + DELTA)
    with pytest.raises(UpstreamError) as caught:
        p.finish()
    assert caught.value.outcome == "upstream_truncated"


def test_a_last_event_without_its_blank_line_still_counts() -> None:
    p = pipe()
    p.feed(CREATED + DELTA)
    p.feed(COMPLETED[:-2])
    assert p.finish() == COMPLETED


@pytest.mark.parametrize("failure", [ERROR, event("response.failed", 3, response=RESPONSE)])
def test_an_in_band_failure_before_the_commit_falls_back(failure: bytes) -> None:
    p = pipe()
    with pytest.raises(UpstreamError) as caught:
        p.feed(CREATED + failure)
    assert not isinstance(caught.value, FailedAfter)
    assert caught.value.outcome == "stream_error"


def test_an_in_band_error_after_the_commit_keeps_the_good_events_before_it() -> None:
    p = pipe()
    assert p.feed(CREATED + DELTA)
    more = event("response.output_text.delta", 3, delta="!", output_index=0, item_id="m")
    with pytest.raises(FailedAfter) as caught:
        p.feed(more + ERROR)
    assert caught.value.before == more


def test_the_preamble_is_bounded() -> None:
    p = pipe(max_precommit=len(CREATED) + 1)
    p.feed(CREATED)
    with pytest.raises(UpstreamError) as caught:
        p.feed(IN_PROGRESS)
    assert "before the first output" in caught.value.message


def test_build_rewrites_only_the_model_and_parse_keeps_the_bytes() -> None:
    codec = ResponsesPassthrough("openai", "http://up/v1/responses", {"authorization": "Bearer k"})
    raw = b'{"model": "public", "input": "x", "store": false, "stream": true}'
    sent = codec.build(orjson.loads(raw), raw, "gpt-5")
    assert sent.url == "http://up/v1/responses" and sent.stream
    assert sent.body == b'{"model":"gpt-5", "input": "x", "store": false, "stream": true}'
    answer = orjson.dumps({"object": "response", "output": [], "usage": USAGE})
    reply = codec.parse(answer)
    assert reply.body == answer and reply.usage == Usage(prompt=3, completion=2, reasoning=1)
    with pytest.raises(UpstreamError) as caught:
        codec.parse(b'{"choices": []}')
    assert caught.value.outcome == "malformed_response"
