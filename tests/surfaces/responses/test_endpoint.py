"""The /v1/responses endpoint's own parts (proxy/surfaces/responses/endpoint.py): the
request check routing needs, and `response.failed` for a stream with no pipe yet."""

from __future__ import annotations

import orjson
import pytest

from proxy.errors import ProxyError, internal_error
from proxy.providers.base import CallContext
from proxy.surfaces.responses.endpoint import _Plan, parse_responses_request


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        (b"{", None, "invalid_json"),
        (b"[1]", None, "invalid_json"),
        (b'{"input": "hi"}', "model", "missing_required_parameter"),
        (b'{"model": "", "input": "hi"}', "model", "missing_required_parameter"),
        (b'{"model": "m", "stream": "yes"}', "stream", None),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    raw: bytes, param: str | None, code: str | None
) -> None:
    with pytest.raises(ProxyError) as caught:
        parse_responses_request(raw)
    assert caught.value.status == 400
    assert caught.value.param == param
    if code is not None:
        assert caught.value.code == code


@pytest.mark.parametrize(
    ("raw", "stream"), [(b'{"model": "m"}', False), (b'{"model": "m", "stream": true}', True)]
)
def test_good_requests(raw: bytes, stream: bool) -> None:
    body, model, streamed = parse_responses_request(raw)
    assert (body, model, streamed) == (orjson.loads(raw), "m", stream)


@pytest.mark.parametrize(
    ("fields", "stateful"),
    [
        ({}, False),
        ({"store": False}, False),
        ({"store": True}, True),
        ({"previous_response_id": "r"}, True),
    ],
)
def test_stateful_requests(fields: dict[str, object], stateful: bool) -> None:
    plan = _Plan({"model": "m", **fields}, b"", CallContext("m", "m", "resp_1", 0, True))
    assert plan.stateful is stateful


def test_fail_without_a_pipe_is_still_response_failed() -> None:
    plan = _Plan({"model": "m"}, b"", CallContext("m", "m", "resp_1", 0, True))
    event = plan.fail(internal_error())
    assert event.startswith(b"event: response.failed\ndata: ")
    data = orjson.loads(event.split(b"data: ", 1)[1])
    assert data["sequence_number"] == 0
    assert data["response"]["status"] == "failed"
