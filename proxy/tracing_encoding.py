"""Our spans in OTLP protobuf wire format, written directly (proxy/tracing.py's fixed shape).

Why not the exporter's own encoder (opentelemetry-exporter-otlp-proto-common's encode_spans,
then SerializeToString): measured in-process on the 2-core dev machine it costs ~85-100 us
of CPU per span of ours, in batches of 512 (two spans a request: ~200 us against the 40 us
budget of issue 13), mostly building a protobuf object per span, attribute and value, and
hashing the Resource (a json.dumps of its attributes) once per span to group spans by
resource. Written directly, a request's two spans cost ~13k instructions of attributes
(proxy/tracing_span.py) and ~25k of framing and queueing (callgrind), a few microseconds.

What is ours here is only the Span message (opentelemetry/proto/trace/v1/trace.proto);
its attributes, the AnyValue kinds ours use (string, bool, int, double, array of those),
are proxy/tracing_attributes.py's. The Resource and the InstrumentationScope are encoded
once, by the official encoder, when the exporter is built. tests/test_tracing_encoding.py
decodes what this writes with opentelemetry-proto and checks it equals what encode_spans
makes of the same spans.
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

from proxy.tracing_attributes import CACHE_LIMIT, CACHED_STR_LENGTH, field, keep, varint

# opentelemetry.proto.trace.v1.Span.SpanKind
SERVER, CLIENT = 2, 3
# opentelemetry.proto.trace.v1.Status.StatusCode
UNSET, ERROR = 0, 2
# Span.flags (SpanFlags): bit 8 says bit 9 is known, bit 9 that the parent is remote;
# what encode_spans writes (the W3C trace flags are not in it).
_LOCAL_PARENT, _REMOTE_PARENT = 0x100, 0x300


def links(trace_state: str, parent_span_id: bytes | None) -> bytes:
    """Span.trace_state (3) and Span.parent_span_id (4), each only if there is one."""
    parent = b"" if parent_span_id is None else PARENT_TAG + parent_span_id
    return field(b"\x1a", trace_state.encode()) + parent if trace_state else parent


Status = tuple[int, str | None]  # (Status.StatusCode, message)
UNSET_STATUS: Status = (UNSET, None)

# Span ids are kept as their bytes (16 for a trace, 8 for a span: what the wire carries),
# each field as its tag and length, then the bytes: trace_id (1), span_id (2),
# parent_span_id (4).
TRACE_TAG, SPAN_TAG, PARENT_TAG = b"\x0a\x10", b"\x12\x08", b"\x22\x08"
_IDS = TRACE_TAG + b"%b" + SPAN_TAG + b"%b"


def ids(trace_id: bytes, span_id: bytes) -> bytes:
    """Span.trace_id (1) and Span.span_id (2)."""
    return _IDS % (trace_id, span_id)


# kind (6), start_time_unix_nano (7), end_time_unix_nano (8): tag, value; tag, fixed64 x2.
_KIND_TIMES = Struct("<BBBQBQ")
# status (15) then flags (16, fixed32; its bits say whether the parent is remote). Status is
# always written (encode_spans does): `Status {}` when unset.
_FLAGS = {False: b"\x85\x01" + _LOCAL_PARENT.to_bytes(4, "little")}
_FLAGS[True] = b"\x85\x01" + _REMOTE_PARENT.to_bytes(4, "little")
_UNSET_TAILS = {remote: b"\x7a\x00" + flags for remote, flags in _FLAGS.items()}
# Span names repeat ("chat {model}"): their encoded field, kept as attributes are.
_NAMES: dict[str, bytes] = {}


def name_field(name: str) -> bytes:
    """Span.name (field 5), kept: names repeat ("chat {model}")."""
    encoded = _NAMES.get(name)
    if encoded is None:
        encoded = field(b"\x2a", name.encode())
        if len(name) <= CACHED_STR_LENGTH:
            keep(_NAMES, name, encoded)
    return encoded


def tail(status: Status, remote_parent: bool) -> bytes:
    """Span.status (15) and Span.flags (16): constant for an unset status."""
    if status is UNSET_STATUS:
        return _UNSET_TAILS[remote_parent]
    return _status(*status) + _FLAGS[remote_parent]


def framed(
    ids: bytes, name: bytes, kind: int, start: int, end: int, attributes: bytes, tail: bytes
) -> bytes:
    """A span from its encoded parts: `ids` is trace_id (1), span_id (2), trace_state (3)
    and parent_span_id (4); `name` from name_field(); `tail` from tail(). What a request's
    spans share (the ids' parts, names, tails) is encoded once by the caller. A span of
    128 bytes to 16 KiB (most) has its head (frame, ids, name, kind, times) packed by one
    kept struct per name and ids' length (callgrind: ~4.4k instructions, ~6.4k by steps)."""
    size = len(ids) + len(name) + 20 + len(attributes) + len(tail)  # 20: kind, two times
    if 0x80 <= size < 0x4000:
        pack = _HEADS.get((name, len(ids))) or _head(name, len(ids))
        length = (size & 0x7F) | 0x80 | (size >> 7) << 8  # the 2-byte varint, little-endian
        return pack(0x12, length, ids, name, 0x30, kind, 0x39, start, 0x41, end) + attributes + tail
    body = b"".join(
        (ids, name, _KIND_TIMES.pack(0x30, kind, 0x39, start, 0x41, end), attributes, tail)
    )
    return b"\x12" + varint(len(body)) + body


# framed()'s heads: (0x12, 2-byte length, ids, name, 0x30, kind, 0x39, start, 0x41, end).
_HEADS: dict[tuple[bytes, int], Callable[..., bytes]] = {}


def _head(name: bytes, ids: int) -> Callable[..., bytes]:
    pack = Struct(f"<BH{ids}s{len(name)}sBBBQBQ").pack
    if len(_HEADS) < CACHE_LIMIT:
        _HEADS[(name, ids)] = pack
    return pack


# A request's two spans when it made one attempt, that attempt answered and there is no
# caller's trace (most requests): one struct packs the attempt's span whole and the request
# span up to its end time, ids and times included; the request span's attributes and tail
# follow (RequestSpan.finish joins them). One pack where the spans' parts took ~20 steps
# and calls (callgrind: ~22k of ~33k instructions saved at the request's end).
# The form: (pack, the request span's size but its attributes and tail, the attempt span's
# frame and trace id tag, its name with kind and start tag, the request span's name with
# kind and start tag, the attempt's rest: its attributes and tail, or those up to its time
# to first chunk and those after it). Struct fields, in order: attempt frame, trace id,
# span id tag, span id, parent tag, parent (our span) id, name+kind, start, end tag, end,
# rest[0] (, double, rest[1]); then the request span: frame tag, 2-byte length, trace id
# tag, trace id, span id tag, span id, name+kind, start, end tag, end.
PairForm = tuple[Any, ...]
_ATTEMPT_IDS, _REQUEST_IDS = 38, 28  # trace id, span id (and parent id): tags, lengths, bytes


def pair_form(attempt_name: bytes, rest: tuple[bytes, ...], request_name: bytes) -> PairForm | None:
    """For name_field()s `attempt_name` and `request_name` and the attempt's `rest` (one
    part, or two around an 8-byte double); None if the attempt span's size needs other
    than a two-byte length (128 bytes to 16 KiB: any real deployment's)."""
    size = _ATTEMPT_IDS + len(attempt_name) + 20 + sum(map(len, rest)) + 8 * (len(rest) - 1)
    if not 0x80 <= size < 0x4000:
        return None
    parts = "d".join(f"{len(part)}s" for part in rest)
    attempt = f"5s16s2s8s2s8s{len(attempt_name) + 3}sQBQ{parts}"
    request = f"BH2s16s2s8s{len(request_name) + 3}sQBQ"
    return (
        Struct(f"<{attempt}{request}").pack,
        _REQUEST_IDS + len(request_name) + 20,
        b"\x12" + varint(size) + TRACE_TAG,
        attempt_name + bytes((0x30, CLIENT, 0x39)),
        request_name + bytes((0x30, SERVER, 0x39)),
        *rest,
    )


def _status(code: int, message: str | None) -> bytes:
    """Span.status (field 15): Status { message = 2; code = 3; }."""
    payload = field(b"\x12", message.encode()) if message else b""
    if code:
        payload += b"\x18" + bytes((code,))
    return field(b"\x7a", payload)


class Batch:
    """The ExportTraceServiceRequest around encoded spans: one ResourceSpans with one
    ScopeSpans, their resource and scope encoded once, by the official encoder."""

    def __init__(self, resource: Resource, scope: InstrumentationScope) -> None:
        probe = ReadableSpan(
            "", SpanContext(1, 1, False), resource=resource, instrumentation_scope=scope
        )
        [resource_spans] = encode_spans([probe]).resource_spans
        [scope_spans] = resource_spans.scope_spans
        self._resource = ResourceSpans(resource=resource_spans.resource).SerializeToString()
        self._resource_tail = ResourceSpans(
            schema_url=resource_spans.schema_url
        ).SerializeToString()
        self._scope = ScopeSpans(scope=scope_spans.scope).SerializeToString()
        self._scope_tail = ScopeSpans(schema_url=scope_spans.schema_url).SerializeToString()

    def request(self, spans: list[bytes]) -> bytes:
        """ExportTraceServiceRequest { resource_spans = 1; } around spans from framed(),
        written with one copy of the spans (a batch is 512 of them by default)."""
        scope, tail = self._scope, self._scope_tail
        scope_spans = len(scope) + sum(map(len, spans)) + len(tail)
        scope_head = b"\x12" + varint(scope_spans)
        size = len(self._resource) + len(scope_head) + scope_spans + len(self._resource_tail)
        head = b"\x0a" + varint(size)
        return b"".join(
            [head, self._resource, scope_head, scope, *spans, tail, self._resource_tail]
        )
