"""proxy/tracing_encoding.py against the official encoder: what it writes, decoded with
opentelemetry-proto's ExportTraceServiceRequest, equals what opentelemetry-exporter-otlp's
encode_spans makes of the same spans as SDK ReadableSpans (and is the same bytes)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from proxy import tracing_attributes as attrs
from proxy import tracing_encoding as encoding

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
RESOURCE = Resource.create(
    {
        "service.name": "proxy-under-test",
        "deployment.environment": "prod",
        "host.cores": 2,
        "ratio": 0.5,
        "canary": False,
        "regions": ["eu", "us"],
    },
    schema_url="https://opentelemetry.io/schemas/1.26.0",
)
SCOPE = InstrumentationScope("llm-proxy")
_KINDS = {encoding.SERVER: SpanKind.SERVER, encoding.CLIENT: SpanKind.CLIENT}
_CODES = {encoding.UNSET: StatusCode.UNSET, encoding.ERROR: StatusCode.ERROR}


def both(spans: list[dict[str, Any]], resource: Resource = RESOURCE) -> tuple[bytes, Any]:
    """(our request bytes, the official encoder's message) for the same spans."""
    ours = encoding.Batch(resource, SCOPE).request([_ours(s) for s in spans])
    return ours, encode_spans([_official(s, resource) for s in spans])


def _ours(s: dict[str, Any]) -> bytes:
    parent = s["parent"]
    status = s["status"]
    return encoded_span(
        s["trace_id"],
        s["span_id"],
        encoding.links(s["trace_state"], None if parent is None else parent[0].to_bytes(8, "big")),
        s["name"],
        s["kind"],
        s["start"],
        s["end"],
        attrs.attributes(s["attributes"]),
        encoding.UNSET_STATUS if status == encoding.UNSET_STATUS else status,
        parent is not None and parent[1],
    )


def encoded_span(
    trace: int,
    span_id: int,
    links: bytes,
    name: str,
    kind: int,
    start: int,
    end: int,
    attributes: bytes,
    status: encoding.Status,
    remote_parent: bool,
) -> bytes:
    """A span from the encoder's parts, as RequestSpan.finish puts them together."""
    ids = encoding.ids(trace.to_bytes(16, "big"), span_id.to_bytes(8, "big"))
    tail = encoding.tail(status, remote_parent)
    return encoding.framed(
        ids + links, encoding.name_field(name), kind, start, end, attributes, tail
    )


def _official(s: dict[str, Any], resource: Resource) -> ReadableSpan:
    state = TraceState.from_header([s["trace_state"]]) if s["trace_state"] else None
    flags = TraceFlags(TraceFlags.SAMPLED)
    parent = None
    if s["parent"] is not None:
        parent = SpanContext(s["trace_id"], s["parent"][0], s["parent"][1], flags)
    code, message = s["status"]
    return ReadableSpan(
        s["name"],
        SpanContext(s["trace_id"], s["span_id"], False, flags, state),
        parent,
        resource,
        s["attributes"],
        kind=_KINDS[s["kind"]],
        status=Status(_CODES[code], message),
        start_time=s["start"],
        end_time=s["end"],
        instrumentation_scope=SCOPE,
    )


def span(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "trace_id": TRACE_ID,
        "span_id": 0x00F067AA0BA902B7,
        "trace_state": "",
        "parent": None,
        "name": "chat smart",
        "kind": encoding.SERVER,
        "start": 1_700_000_000_123_456_789,
        "end": 1_700_000_000_223_456_789,
        "attributes": {},
        "status": (encoding.UNSET, None),
    }
    return {**base, **fields}


def assert_same(spans: list[dict[str, Any]], resource: Resource = RESOURCE) -> None:
    ours, official = both(spans, resource)
    assert ExportTraceServiceRequest.FromString(ours) == official
    # Byte for byte too, while no time is 0 (proto3 leaves a zero scalar out; we write the
    # times always: the same message once decoded).
    if all(s["start"] and s["end"] for s in spans):
        assert ours == official.SerializeToString()


# What proxy/tracing.py records: every attribute value type it uses.
SERVER_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "smart",
    "gen_ai.request.stream": False,
    "gen_ai.request.temperature": 0.5,
    "gen_ai.request.max_tokens": 1024,
    "gen_ai.request.seed": -7,
    "llm_proxy.request.models": ["smart", "cheap"],
    "llm_proxy.request.route": "p0",
    "http.response.status_code": 200,
    "llm_proxy.outcome": "ok",
    "llm_proxy.attempts": ["p0:upstream_5xx", "p1:ok"],
    "gen_ai.provider.name": "openai",
    "llm_proxy.provider": "p1",
    "gen_ai.response.model": "m1",
    "gen_ai.response.id": "chatcmpl-123",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.response.time_to_first_chunk": 0.012345,
    "gen_ai.usage.input_tokens": 9,
    "gen_ai.usage.output_tokens": 0,
    "gen_ai.usage.cache_read.input_tokens": 0,
    "gen_ai.usage.reasoning.output_tokens": 300,
    "gen_ai.input.messages": '[{"role":"user","content":"grüß dich ✓"}]',
}
ATTEMPT_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "llm_proxy.provider": "p0",
    "server.address": "api.example.com",
    "server.port": 8443,
    "gen_ai.request.model": "m0",
    "gen_ai.response.time_to_first_chunk": 1e-05,
    "llm_proxy.attempt.outcome": "upstream_5xx",
    "error.type": "upstream_5xx",
}


def test_a_request_s_spans_are_what_the_official_encoder_writes() -> None:
    server = span(attributes=SERVER_ATTRIBUTES)
    attempt = span(
        span_id=0x1122334455667788,
        parent=(server["span_id"], False),
        name="chat m0",
        kind=encoding.CLIENT,
        attributes=ATTEMPT_ATTRIBUTES,
        status=(encoding.ERROR, "p0: upstream answered 500 ünïcode"),
    )
    assert_same([attempt, server])


def test_a_callers_remote_parent_trace_state_and_an_error_without_message() -> None:
    server = span(
        parent=(0x00F067AA0BA902B7, True),
        span_id=0xFFFFFFFFFFFFFFFF,
        trace_id=(1 << 128) - 1,
        trace_state="vendor=abc,other=x-y",
        attributes={"error.type": "model_not_found", "http.response.status_code": 404},
        status=(encoding.ERROR, None),
    )
    assert_same([server])


def test_edge_values_and_lengths() -> None:
    attributes = {
        "empty": "",
        "true": True,
        "int64.max": (1 << 63) - 1,
        "int64.min": -(1 << 63),
        "zero.float": 0.0,
        "negative.float": -2.5e-300,
        "empty.list": [],
        "ints": [1, -1, 1 << 40],
        "floats": [0.5, 1.0],
        "bools": [True, False],
        "long": "x" * 200,  # two-byte lengths
        "longer": "y" * 20_000,  # three-byte lengths
        "é.key": "ключ",
    }
    assert_same([span(name="n" * 300, attributes=attributes, end=(1 << 64) - 1)])
    assert_same([span(start=0, end=0)])


def test_a_value_with_no_int64_encoding_is_left_out_as_the_official_encoder_does() -> None:
    attributes = {"before": 1, "gen_ai.request.seed": 1 << 63, "after": 2}
    assert_same([span(attributes=attributes)])
    assert attrs.attributes(attributes) == attrs.attributes({"before": 1, "after": 2})


def test_resource_without_schema_and_a_minimal_resource() -> None:
    assert_same([span()], Resource({"service.name": "x"}))
    assert_same([span(), span(span_id=2)], Resource({}))


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(["str", "bool", "int", "float", "list"] if depth == 0 else ["str", "int"])
    if kind == "str":
        return "".join(rng.choice("aé✓ z-") for _ in range(rng.choice([0, 1, 5, 130, 300])))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, 1, 127, 128, 16384, -1, -(1 << 62), (1 << 63) - 1])
    if kind == "float":
        return rng.uniform(-1e9, 1e9)
    return [_random_value(rng, 1) for _ in range(rng.randrange(4))]


@pytest.mark.parametrize("seed", range(20))
def test_random_spans_match(seed: int) -> None:
    rng = random.Random(seed)
    spans = []
    for n in range(rng.randrange(1, 6)):
        attributes = {f"k{i}.{seed}": _random_value(rng) for i in range(rng.randrange(25))}
        parent = None if rng.random() < 0.3 else (rng.getrandbits(64) or 1, rng.random() < 0.5)
        spans.append(
            span(
                trace_id=rng.getrandbits(128) or 1,
                span_id=rng.getrandbits(64) or 1,
                parent=parent,
                name=f"chat m{n}",
                kind=rng.choice([encoding.SERVER, encoding.CLIENT]),
                start=rng.getrandbits(63) or 1,
                end=rng.getrandbits(64) or 1,
                attributes=attributes,
                trace_state=rng.choice(["", "a=b", "vendor=abc,other=1"]),
                status=rng.choice([(0, None), (2, None), (2, "broken: x" * rng.randrange(30))]),
            )
        )
    assert_same(spans)


@pytest.mark.parametrize(
    "value",
    [
        *("", "chatcmpl-123", "x" * 103, "x" * 104, "x" * 125, "x" * 126, "x" * 127),
        *("é" * 70, "y" * 300, "\ud800"),
    ],
)
@pytest.mark.parametrize("key", ["gen_ai.response.id", "a%s%%b", "k" * 200])
def test_unique_strings_as_attributes_writes_them(key: str, value: str) -> None:
    # 103 and 104 bytes: the last and first whose KeyValue needs a two-byte length with
    # this key; a key with % signs (unique's format), a key longer than one length byte.
    expected = attrs.attributes({key: value})
    assert attrs.unique(key, value) == expected


@pytest.mark.parametrize(
    "value", [0, 1, 127, 128, 300, 16383, 16384, 1 << 40, -1, -(1 << 63), 1 << 63]
)
def test_an_integer_as_attributes_writes_it(value: int) -> None:
    key = "gen_ai.usage.input_tokens"
    assert attrs.integer(key, value) == attrs.attributes({key: value})


def test_one_attribute_and_doubles_as_attributes_writes_them() -> None:
    for key, value in SERVER_ATTRIBUTES.items():
        assert attrs.attribute(key, value) == attrs.attributes({key: value})
    assert attrs.attribute("l", ["a", "b"]) == attrs.attributes({"l": ("a", "b")})
    for value in (0.0, 1e-05, 12.5, -3.0):
        assert attrs.double("d", value) == attrs.attributes({"d": value})


@pytest.mark.parametrize(
    "counts",
    [
        (0, 0, 0, 0),
        (9, 127, 128, 300),
        (16384, 1 << 40, -1, 5),
        (1 << 63, 1, 2, 3),
        (1500, 300, 0, 0),
        (16383, 16383, 16383, 16383),
        (127, 128, 16383, 16384),
        # every shape usage()'s kept structs cover: which counts take two bytes
        *[tuple(200 + i if shape >> i & 1 else 5 + i for i in range(4)) for shape in range(16)],
    ],
)
def test_usage_as_attributes_writes_it(counts: tuple[int, int, int, int]) -> None:
    names = ("input_tokens", "output_tokens", "cache_read.input_tokens", "reasoning.output_tokens")
    expected = {f"gen_ai.usage.{name}": value for name, value in zip(names, counts, strict=True)}
    assert attrs.usage(*counts) == attrs.attributes(expected)
    if all(0 <= count < 0x80 for count in counts):
        assert attrs.USAGE_SMALL % counts == attrs.attributes(expected)
