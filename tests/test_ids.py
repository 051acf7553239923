"""Ids are unique and unpredictable: nothing in one id tells the next (issue 16, item 14)."""

from __future__ import annotations

import os

from proxy.ids import new_id


def test_ids_are_24_hex_and_unique() -> None:
    ids = [new_id() for _ in range(5000)]  # several pool refills
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)


def test_consecutive_ids_share_no_prefix_and_are_not_a_count() -> None:
    a, b, c = new_id(), new_id(), new_id()
    assert int(b, 16) - int(a, 16) != int(c, 16) - int(b, 16)
    # A counter behind a fixed per-process prefix shares its first half across ids.
    prefixes = {new_id()[:12] for _ in range(100)}
    assert len(prefixes) == 100


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id, then leave at once
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 24 and child != new_id()
