"""Unique ids for requests and responses, cheap enough for the hot path.

uuid4() reads 16 bytes from the OS on every call; a random per-process prefix plus a
counter is just as unique for our purposes (ids never guard anything) at a fraction of
the cost. A forked child draws a new prefix.
"""

from __future__ import annotations

import itertools
import os
import secrets


class _Sequence:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = secrets.token_hex(6)
        self.counter = itertools.count(1)


_SEQUENCE = _Sequence()
os.register_at_fork(after_in_child=_SEQUENCE.reset)


def new_id() -> str:
    """24 hex characters, unique across this host's processes and their restarts."""
    return f"{_SEQUENCE.prefix}{next(_SEQUENCE.counter):012x}"
