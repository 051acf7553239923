"""Span attributes in OTLP protobuf wire format (KeyValue and AnyValue of
opentelemetry/proto/common/v1/common.proto), written directly and kept where they repeat;
proxy/tracing_encoding.py frames them into spans (why not the official encoder: there).
tests/test_tracing_encoding.py checks them against the official encoder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from struct import Struct
from typing import Any, TypeVar

DOUBLE = _DOUBLE = Struct("<d")
_INT64 = 1 << 63
_UINT64 = (1 << 64) - 1
_ONE = [bytes((n,)) for n in range(0x80)]  # one-byte varints: bytes((n,)) costs more
_TWO = Struct("<H")  # two-byte varints, packed
# Encoded pieces are kept (below): at most this many per table, a full one starts over;
# strings longer than this are not kept (content may be megabytes).
CACHE_LIMIT = 4096
CACHED_STR_LENGTH = 128
_K = TypeVar("_K")
_V = TypeVar("_V")


def keep(table: dict[_K, _V], key: _K, value: _V, limit: int = CACHE_LIMIT) -> _V:
    """Store `value` in a table of kept encodings; a full table starts over."""
    if len(table) >= limit:
        table.clear()
    table[key] = value
    return value


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


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the payload's length, the payload."""
    n = len(payload)
    return tag + (_ONE[n] if n < 0x80 else varint(n)) + payload


def _value(value: Any) -> bytes:
    """An AnyValue message. bool before int (a bool is an int); a oneof member is written
    even when it is its type's zero value, as the official encoder does."""
    if isinstance(value, str):
        return field(b"\x0a", value.encode())
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError(f"{value} does not fit an int64 attribute value")
        return b"\x18" + varint(value & _UINT64)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, list | tuple):  # ArrayValue { repeated AnyValue values = 1; }
        return field(b"\x2a", b"".join([field(b"\x0a", _value(v)) for v in value]))
    raise TypeError(f"no OTLP encoding here for an attribute value of type {type(value)}")


# KeyValue.key (field 1) per attribute name: the names are ours, a few dozen.
_KEYS: dict[str, bytes] = {}


def _key(key: str) -> bytes:
    head = field(b"\x0a", key.encode())
    if len(_KEYS) < CACHE_LIMIT:
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
            keep(self, entry, encoded)
        return encoded


def _kept(value: Any, kind: type) -> bool:
    if kind is str:
        return len(value) <= CACHED_STR_LENGTH
    if kind is tuple:
        return all(v.__class__ is str and len(v) <= CACHED_STR_LENGTH for v in value)
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
    if not before and len(_UNIQUE) < CACHE_LIMIT:
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
USAGE_KEYS = (
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
                integer(USAGE_KEYS[0], prompt),
                integer(USAGE_KEYS[1], completion),
                integer(USAGE_KEYS[2], cached),
                integer(USAGE_KEYS[3], reasoning),
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
    heads = [_int_heads(key)[wide] for key, wide in zip(USAGE_KEYS, two, strict=True)]
    fields = "".join(
        f"{len(head)}s{'H' if wide else 'B'}" for head, wide in zip(heads, two, strict=True)
    )
    return (Struct(f"<{fields}").pack, *heads)


def _int_heads(key: str) -> tuple[bytes, bytes]:
    heads = (_attribute(key, 0)[:-1], _attribute(key, 0x80)[:-2])
    if len(_INT_HEADS) < CACHE_LIMIT:
        _INT_HEADS[key] = heads
    return heads


# usage() for four one-byte counts (0-127), by one format: each key's head, the count as %c.
USAGE_SMALL = b"".join(_int_heads(key)[0].replace(b"%", b"%%") + b"%c" for key in USAGE_KEYS)
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
