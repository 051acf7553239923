"""heap.settle: the startup heap frozen, the young threshold raised; thaw gives it back. The
gateway settles a server's heap at start and thaws it at a reload (tests/test_state.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from proxy import heap


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restore_gc")
def test_settle_freezes_the_heap_and_raises_only_the_young_threshold() -> None:
    _, middle, old = gc.get_threshold()
    heap.settle()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, middle, old)
    heap.thaw()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("restore_gc")
def test_settle_collects_garbage_in_cycles_before_freezing() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.collect()
    gc.freeze()  # as a previous settle would have: the cycle is out of the collector's sight
    del a, b
    assert not any(type(o) is Node for o in gc.get_objects())  # frozen objects are hidden
    heap.settle()  # unfreezes first, so the cycle is collected, not frozen again
    gc.unfreeze()
    assert not any(type(o) is Node for o in gc.get_objects())
