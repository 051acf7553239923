"""Tool-call ids that Anthropic accepts, mapped losslessly both ways.

Anthropic requires `tool_use.id` and `tool_result.tool_use_id` to match `^[a-zA-Z0-9_-]+$`
and answers 400 otherwise. Other providers write ids outside that set (Kimi's
`functions.get_weather:0`, ids with dots or colons), and a client that switches model mid
conversation sends them back. So every id goes up through `to_anthropic_id` and every id
that comes down goes through `from_anthropic_id`:

- an id Anthropic accepts is sent unchanged (no cost for the usual `call_...`/`toolu_...`);
- any other id becomes `ENCODED_PREFIX` + the id with each byte outside `[a-zA-Z0-9_]`
  (in UTF-8) spelled `-` + two lowercase hex digits:
  `functions.get_weather:0` -> `idx-functions-2eget_weather-3a0`. Ids already starting with
  the prefix are encoded too, so the mapping is injective and `from_anthropic_id` inverts it.

Pure functions of the id alone: a tool_use and its tool_result map identically without any
per-request table, on every request of a conversation, in any process.
"""

from __future__ import annotations

import re

ENCODED_PREFIX = "idx-"
_ANTHROPIC_ID = re.compile(r"[a-zA-Z0-9_-]+")  # https://docs.anthropic.com/en/api/messages
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ESCAPE = re.compile(r"-([0-9a-f]{2})")


def to_anthropic_id(call_id: str) -> str:
    if _ANTHROPIC_ID.fullmatch(call_id) and not call_id.startswith(ENCODED_PREFIX):
        return call_id
    escaped = "".join(chr(b) if b in _PLAIN else f"-{b:02x}" for b in call_id.encode())
    return ENCODED_PREFIX + escaped


def from_anthropic_id(call_id: str) -> str:
    """The client's id for an id that went up through to_anthropic_id (others unchanged)."""
    if not call_id.startswith(ENCODED_PREFIX):
        return call_id
    body = call_id[len(ENCODED_PREFIX) :]
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), body)
    try:
        original = raw.encode("latin-1").decode()
    except UnicodeError:  # not bytes we escaped
        return call_id
    # Only an exact inverse counts: anything else was not written by to_anthropic_id.
    return original if to_anthropic_id(original) == call_id else call_id
