"""Our spans in OTLP protobuf wire format, written directly (proxy/tracing.py's fixed shape).

Why not the exporter's own encoder (opentelemetry-exporter-otlp-proto-common's encode_spans,
then SerializeToString): measured in-process on the 2-core dev machine it costs ~85-100 us
of CPU per span of ours, in batches of 512 (two spans a request: ~200 us against the 40 us
budget of issue 13), mostly building a protobuf object per span, attribute and value, and
hashing the Resource (a json.dumps of its attributes) once per span to group spans by
resource. Written directly, a request's two spans cost ~13k instructions of attributes
(proxy/tracing_span.py) and ~25k of framing and queueing (callgrind), a few microseconds.

What is ours here is only the Span message (opentelemetry/proto/trace/v1/trace.proto) and
the AnyValue kinds our attributes use (string, bool, int, double, array of those). The
Resource and the InstrumentationScope are encoded once, by the official encoder, when the
exporter is built. tests/test_tracing_encoding.py decodes what this writes with
opentelemetry-proto and checks it equals what encode_spans makes of the same spans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

DOUBLE = _DOUBLE = Struct("<d")
_INT64 = 1 << 63
_UINT64 = (1 << 64) - 1
_ONE = [bytes((n,)) for n in range(0x80)]  # one-byte varints: bytes((n,)) costs more
_TWO = Struct("<H")  # two-byte varints, packed
# Encoded pieces are kept (below): at most this many per table, a full one starts over;
# strings longer than this are not kept (content may be megabytes).
_CACHE_LIMIT = 4096
_CACHED_STR_LENGTH = 128


def varint(n: int) -> bytes:
    """A protobuf varint of a non-negative int (lengths, int64 as two's complement)."""
    if n < 0x80:
        return _ONE[n]
    if n < 0x4000:  # a span's length, mostly
        return _TWO.pack((n & 0x7F) | 0x80 | (n >> 7) << 8)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the payload's length, the payload."""
    n = len(payload)
    return tag + (_ONE[n] if n < 0x80 else varint(n)) + payload


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
        return b"\x18" + varint(value & _UINT64)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, list | tuple):  # ArrayValue { repeated AnyValue values = 1; }
        return _field(b"\x2a", b"".join([_field(b"\x0a", _value(v)) for v in value]))
    raise TypeError(f"no OTLP encoding here for an attribute value of type {type(value)}")


# KeyValue.key (field 1) per attribute name: the names are ours, a few dozen.
_KEYS: dict[str, bytes] = {}


def _key(key: str) -> bytes:
    head = _field(b"\x0a", key.encode())
    if len(_KEYS) < _CACHE_LIMIT:
        _KEYS[key] = head
    return head


def _attribute(key: str, value: Any) -> bytes:
    """One Span.attributes (field 9) entry: KeyValue { key = 1; value = 2; }."""
    head = _KEYS.get(key) or _key(key)
    encoded = _value(value)
    n = len(encoded)
    pair = head + (b"\x12" + _ONE[n] if n < 0x80 else b"\x12" + varint(n)) + encoded
    n = len(pair)
    return (b"\x4a" + _ONE[n] if n < 0x80 else b"\x4a" + varint(n)) + pair


# Attributes repeat from one request to the next (model and provider names, outcomes,
# status codes), so encoded attributes are kept by (key, value, value type): the type, as
# True == 1 == 1.0 would share an entry otherwise. Not kept: doubles (durations), long
# strings, arrays of anything but short strings. attributes() looks them up through map()
# and zip(), so a hit runs no Python code: ~0.9k instructions an attribute (callgrind),
# against ~1.5k for a loop in Python, after ~4k to set up.
# A double's attribute is its key's fixed head and the value's 8 bytes.
_DOUBLE_HEADS: dict[str, bytes] = {}


class _Encoded(dict[tuple[str, Any, type], bytes]):
    def __missing__(self, entry: tuple[str, Any, type]) -> bytes:
        key, value, kind = entry
        if kind is float:
            return double(key, value)
        try:
            encoded = _attribute(key, value)
        except (TypeError, ValueError):  # not encodable: left out
            return b""
        if _kept(value, kind):
            if len(self) >= _CACHE_LIMIT:
                self.clear()
            self[entry] = encoded
        return encoded


def _kept(value: Any, kind: type) -> bool:
    if kind is str:
        return len(value) <= _CACHED_STR_LENGTH
    if kind is tuple:
        return all(v.__class__ is str and len(v) <= _CACHED_STR_LENGTH for v in value)
    return kind is int or kind is bool


_ENCODED = _Encoded()


def attributes(values: Mapping[str, Any]) -> bytes:
    """Span attributes, in the mapping's order; a value that has no encoding is left out
    (the official encoder logs and skips it: an int beyond int64, say). Arrays are best
    given as tuples: a list cannot be a table key and takes the slow way."""
    entries = zip(values, values.values(), map(type, values.values()), strict=True)
    try:
        return b"".join(map(_ENCODED.__getitem__, entries))
    except TypeError:  # a value that cannot be hashed (a list)
        return b"".join([_slow(key, value) for key, value in values.items()])


def attribute(key: str, value: Any) -> bytes:
    """One attribute, as attributes({key: value}) writes it (kept as attributes() keeps)."""
    try:
        return _ENCODED[(key, value, value.__class__)]
    except TypeError:
        return _slow(key, value)


def unique(key: str, value: str) -> bytes:
    """A string attribute whose value will not come again (an id, content): not kept."""
    return unique_after(_UNIQUE.get(key) or unique_form(key), value)


# unique_after()'s form: (the KeyValue's length but the value's, what comes first, the key,
# and the bytes %-format of both: the first part, then the attribute with its three lengths
# as %c and the value as %b).
UniqueForm = tuple[int, bytes, str, bytes]


def unique_form(key: str, before: bytes = b"") -> UniqueForm:
    """The form of a `key` attribute after the encoded attributes `before`."""
    head = _KEYS.get(key) or _key(key)
    escaped = before.replace(b"%", b"%%") + b"\x4a%c" + head.replace(b"%", b"%%")
    form = (len(head) + 4, before, key, escaped + b"\x12%c\x0a%c%b")
    if not before and len(_UNIQUE) < _CACHE_LIMIT:
        _UNIQUE[key] = form
    return form


def unique_after(form: UniqueForm, value: str) -> bytes:
    """A unique string attribute (not kept) after the form's first part. A short value is
    written by the form's one bytes %-format, the fewest steps measured (callgrind)."""
    try:
        data = value.encode()
    except UnicodeEncodeError:  # not UTF-8 (a lone surrogate): left out
        return form[1]
    pair = form[0] + len(data)  # KeyValue's length: key field, value's tag and lengths
    if pair < 0x80:
        return form[3] % (pair, len(data) + 2, len(data), data)
    return form[1] + _attribute(form[2], value)


_UNIQUE: dict[str, UniqueForm] = {}


def integer(key: str, value: int) -> bytes:
    """An int attribute whose value varies (a token count), as attributes() writes it: per
    key, the heads for one- and two-byte values are kept, not the values. (A loop over
    several is dearer than a call each: ~2k instructions an iteration, callgrind.)"""
    if 0 <= value < 0x4000:
        heads = _INT_HEADS.get(key) or _int_heads(key)
        if value < 0x80:
            return heads[0] + _ONE[value]
        return heads[1] + _TWO.pack((value & 0x7F) | 0x80 | (value >> 7) << 8)
    return attribute(key, value)


_INT_HEADS: dict[str, tuple[bytes, bytes]] = {}
_USAGE = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
)


def usage(prompt: int, completion: int, cached: int, reasoning: int) -> bytes:
    """The four gen_ai.usage.* token counts, as integer() writes each. Counts of one or two
    varint bytes (0-16383: most) by one kept struct per shape (which of them take two
    bytes): ~4k instructions against ~11k for an integer() each (callgrind). All four
    under 128: USAGE_SMALL % counts writes the same in one step."""
    if not 0 <= (prompt | completion | cached | reasoning) < 0x4000:  # `|`: the largest's bits
        return b"".join(
            (
                integer(_USAGE[0], prompt),
                integer(_USAGE[1], completion),
                integer(_USAGE[2], cached),
                integer(_USAGE[3], reasoning),
            )
        )
    shape = (
        (prompt > 0x7F) | (completion > 0x7F) << 1 | (cached > 0x7F) << 2 | (reasoning > 0x7F) << 3
    )
    form = _USAGE_FORMS[shape]
    pack: Callable[..., bytes] = form[0]
    # A two-byte varint as one little-endian 'H': the low 7 bits with the continuation bit
    # (0x80), then the high 7 bits: n + (n & -0x80) + 0x80, for n = high * 128 + low.
    return pack(
        form[1],
        prompt if prompt < 0x80 else prompt + (prompt & -0x80) + 0x80,
        form[2],
        completion if completion < 0x80 else completion + (completion & -0x80) + 0x80,
        form[3],
        cached if cached < 0x80 else cached + (cached & -0x80) + 0x80,
        form[4],
        reasoning if reasoning < 0x80 else reasoning + (reasoning & -0x80) + 0x80,
    )


def _usage_form(shape: int) -> tuple[Any, ...]:
    """usage()'s struct for a shape (bit i set: count i takes two varint bytes) and the
    heads of the four attributes for it."""
    two = [bool(shape >> i & 1) for i in range(4)]
    heads = [_int_heads(key)[wide] for key, wide in zip(_USAGE, two, strict=True)]
    fields = "".join(
        f"{len(head)}s{'H' if wide else 'B'}" for head, wide in zip(heads, two, strict=True)
    )
    return (Struct(f"<{fields}").pack, *heads)


def _int_heads(key: str) -> tuple[bytes, bytes]:
    heads = (_attribute(key, 0)[:-1], _attribute(key, 0x80)[:-2])
    if len(_INT_HEADS) < _CACHE_LIMIT:
        _INT_HEADS[key] = heads
    return heads


# usage() for four one-byte counts (0-127), by one format: each key's head, the count as %c.
USAGE_SMALL = b"".join(_int_heads(key)[0].replace(b"%", b"%%") + b"%c" for key in _USAGE)
_USAGE_FORMS = [_usage_form(shape) for shape in range(16)]


def double(key: str, value: float) -> bytes:
    """A double attribute (a duration): its key's head, kept, and the value's 8 bytes."""
    head = _DOUBLE_HEADS.get(key)
    if head is None:
        head = _DOUBLE_HEADS[key] = _attribute(key, 0.0)[:-8]
    return head + _DOUBLE.pack(value)


def _slow(key: str, value: Any) -> bytes:
    if value.__class__ is list:
        value = tuple(value)
    try:
        return _ENCODED[(key, value, value.__class__)]
    except TypeError:  # still unhashable (a list inside, a dict): encoded, not kept
        try:
            return _attribute(key, value)
        except (TypeError, ValueError):
            return b""


def links(trace_state: str, parent_span_id: bytes | None) -> bytes:
    """Span.trace_state (3) and Span.parent_span_id (4), each only if there is one."""
    parent = b"" if parent_span_id is None else PARENT_TAG + parent_span_id
    return _field(b"\x1a", trace_state.encode()) + parent if trace_state else parent


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
        encoded = _field(b"\x2a", name.encode())
        if len(name) <= _CACHED_STR_LENGTH:
            if len(_NAMES) >= _CACHE_LIMIT:
                _NAMES.clear()
            _NAMES[name] = encoded
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
    if len(_HEADS) < _CACHE_LIMIT:
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
