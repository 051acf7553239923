"""Our spans in OTLP protobuf wire format, written directly (proxy/tracing.py's fixed shape).

Why not the exporter's own encoder (opentelemetry-exporter-otlp-proto-common's encode_spans,
then SerializeToString): measured in-process on the 2-core dev machine it costs ~85-100 us
of CPU per span of ours (two spans a request: ~200 us against the 40 us budget of issue
13), mostly building a protobuf object per span, attribute and value, and hashing the
Resource (a json.dumps of its attributes) once per span to group spans by resource. Writing
the bytes of our two span shapes directly costs a few microseconds a span.

What is ours here is only the Span message (opentelemetry/proto/trace/v1/trace.proto) and
the AnyValue kinds our attributes use (string, bool, int, double, array of those). The
Resource and the InstrumentationScope are encoded once, by the official encoder, when the
exporter is built. tests/test_tracing_encoding.py decodes what this writes with
opentelemetry-proto and checks it equals what encode_spans makes of the same spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from struct import Struct
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

# opentelemetry.proto.trace.v1.Span.SpanKind
SERVER, CLIENT = 2, 3
# opentelemetry.proto.trace.v1.Status.StatusCode
UNSET, ERROR = 0, 2
# Span.flags (SpanFlags): bit 8 says bit 9 is known, bit 9 that the parent is remote;
# what encode_spans writes (the W3C trace flags are not in it).
_LOCAL_PARENT, _REMOTE_PARENT = 0x100, 0x300

_DOUBLE = Struct("<d")
_INT64 = 1 << 63
_UINT64 = (1 << 64) - 1


def _varint(n: int) -> bytes:
    """A protobuf varint of a non-negative int (lengths, int64 as two's complement)."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:  # a span's length, mostly
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the payload's length, the payload."""
    n = len(payload)
    return tag + (bytes((n,)) if n < 0x80 else _varint(n)) + payload


def _value(value: Any) -> bytes:
    """An AnyValue message. bool before int (a bool is an int); a oneof member is written
    even when it is its type's zero value, as the official encoder does."""
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError(f"{value} does not fit an int64 attribute value")
        return b"\x18" + _varint(value & _UINT64)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, list | tuple):  # ArrayValue { repeated AnyValue values = 1; }
        return _field(b"\x2a", b"".join([_field(b"\x0a", _value(v)) for v in value]))
    raise TypeError(f"no OTLP encoding here for an attribute value of type {type(value)}")


def _attribute(key: str, value: Any) -> bytes:
    """One Span.attributes (field 9) entry: KeyValue { key = 1; value = 2; }."""
    return _field(b"\x4a", _field(b"\x0a", key.encode()) + _field(b"\x12", _value(value)))


# Most of a request's attributes repeat from one request to the next (model and provider
# names, outcomes, status codes, token counts), so whole encoded attributes are kept, by
# (key, value), one table per value type (True == 1 == 1.0 as dict keys). Only short
# strings: content attributes may be megabytes. A full table starts over.
_CACHE_LIMIT = 1024
_CACHED_STR_LENGTH = 128
_TABLES: dict[type, dict[tuple[str, Any], bytes]] = {str: {}, bool: {}, int: {}}
_LISTS: dict[str, dict[tuple[Any, ...], bytes]] = {}  # per key, by the list's items
# A double's attribute is its key's fixed head and the value's 8 bytes.
_DOUBLE_HEADS: dict[str, bytes] = {}


def attributes(values: Mapping[str, Any]) -> bytes:
    """Span attributes, in the mapping's order; a value that has no encoding is left out
    (the official encoder logs and skips it: an int beyond int64, say)."""
    out = []
    tables = _TABLES
    for item in values.items():
        value = item[1]
        table = tables.get(value.__class__)
        if table is not None:
            encoded = table.get(item)
            if encoded is None:
                try:
                    encoded = _attribute(*item)
                except ValueError:
                    continue
                if value.__class__ is not str or len(value) <= _CACHED_STR_LENGTH:
                    if len(table) >= _CACHE_LIMIT:
                        table.clear()
                    table[item] = encoded
            out.append(encoded)
        elif value.__class__ is list:
            # A list of strings, by (key, tuple): a hit is one (a string equals only one).
            lists = _LISTS.get(item[0])
            if lists is None:
                lists = _LISTS[item[0]] = {}
            encoded = lists.get(entry := tuple(value))
            if encoded is None:
                try:
                    encoded = _attribute(*item)
                except (TypeError, ValueError):
                    continue
                if all(v.__class__ is str and len(v) <= _CACHED_STR_LENGTH for v in value):
                    if len(lists) >= _CACHE_LIMIT:
                        lists.clear()
                    lists[entry] = encoded
            out.append(encoded)
        elif value.__class__ is float:
            head = _DOUBLE_HEADS.get(item[0])
            if head is None:
                head = _DOUBLE_HEADS[item[0]] = _attribute(item[0], 0.0)[:-8]
            out.append(head + _DOUBLE.pack(value))
        else:
            try:
                out.append(_attribute(*item))
            except (TypeError, ValueError):
                continue
    return b"".join(out)


# trace_id (1), span_id (2): tags, lengths and big-endian bytes (the id split in two).
_IDS = Struct(">2sQQ2sQ")
# kind (6), start_time_unix_nano (7), end_time_unix_nano (8): tag, value; tag, fixed64 x2.
_KIND_TIMES = Struct("<BBBQBQ")
# flags (16, fixed32): tag and value; the bits say whether the parent is remote.
_FLAGS = {False: b"\x85\x01" + _LOCAL_PARENT.to_bytes(4, "little")}
_FLAGS[True] = b"\x85\x01" + _REMOTE_PARENT.to_bytes(4, "little")
# Span names repeat ("chat {model}"): their encoded field, kept as _TABLES are.
_NAMES: dict[str, bytes] = {}


def span(
    trace_id: int,
    span_id: int,
    trace_state: str,
    parent: tuple[int, bool] | None,
    name: str,
    kind: int,
    start: int,
    end: int,
    encoded_attributes: bytes,
    status: tuple[int, str | None],
) -> bytes:
    """One Span message, framed as a ScopeSpans.spans entry (field 2): fields in number
    order, flags (16) last, as the official encoder writes them. `parent` is (span id,
    is remote); `status` is (code, message)."""
    parts = [_IDS.pack(b"\x0a\x10", trace_id >> 64, trace_id & _UINT64, b"\x12\x08", span_id)]
    if trace_state:
        parts.append(_field(b"\x1a", trace_state.encode()))
    if parent is not None:
        parts.append(b"\x22\x08" + parent[0].to_bytes(8, "big"))
    encoded_name = _NAMES.get(name)
    if encoded_name is None:
        encoded_name = _field(b"\x2a", name.encode())
        if len(name) <= _CACHED_STR_LENGTH:
            if len(_NAMES) >= _CACHE_LIMIT:
                _NAMES.clear()
            _NAMES[name] = encoded_name
    parts += (
        encoded_name,
        _KIND_TIMES.pack(0x30, kind, 0x39, start, 0x41, end),
        encoded_attributes,
        _status(*status),
        _FLAGS[parent is not None and parent[1]],
    )
    return _field(b"\x12", b"".join(parts))


_STATUS_UNSET = b"\x7a\x00"  # Status {}: the official encoder always writes a status


def _status(code: int, message: str | None) -> bytes:
    """Span.status (field 15): Status { message = 2; code = 3; }."""
    if code == UNSET and not message:
        return _STATUS_UNSET
    payload = _field(b"\x12", message.encode()) if message else b""
    if code:
        payload += b"\x18" + bytes((code,))
    return _field(b"\x7a", payload)


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

    def request(self, spans: Iterable[bytes]) -> bytes:
        """ExportTraceServiceRequest { resource_spans = 1; } around spans from `span`."""
        scope_spans = _field(b"\x12", b"".join([self._scope, *spans, self._scope_tail]))
        return _field(b"\x0a", self._resource + scope_spans + self._resource_tail)
