"""The memory byte store: LRU eviction within max_bytes, TTL expiry, per-model clears."""

from __future__ import annotations

from proxy.cache.store import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_never_exceeds_max_bytes_and_evicts_least_recently_used() -> None:
    store = MemoryStore(max_bytes=30)
    for key in "abc":
        await store.set("m", key, b"x" * 10, 60)
    assert await store.get("m", "a") == b"x" * 10  # a is now the most recent
    await store.set("m", "d", b"y" * 10, 60)
    assert await store.get("m", "b") is None  # b was the least recently used
    assert await store.get("m", "a") is not None and await store.get("m", "d") is not None
    assert store.sizes() == (3, 30) and store.evictions == 1


async def test_an_entry_larger_than_the_bound_is_not_stored() -> None:
    store = MemoryStore(max_bytes=10)
    await store.set("m", "a", b"x" * 11, 60)
    assert store.sizes() == (0, 0)


async def test_many_inserts_stay_bounded() -> None:
    store = MemoryStore(max_bytes=1000)
    for i in range(500):
        await store.set("m", str(i), b"z" * (i % 97 + 1), 60)
        held = store.sizes()[1]
        assert held is not None and held <= 1000


async def test_entries_expire() -> None:
    clock = Clock()
    store = MemoryStore(max_bytes=100, clock=clock)
    await store.set("m", "a", b"v", 5)
    clock.now += 4.9
    assert await store.get("m", "a") == b"v"
    clock.now += 0.2
    assert await store.get("m", "a") is None
    assert store.sizes() == (0, 0)


async def test_replacing_a_key_keeps_the_count_right() -> None:
    store = MemoryStore(max_bytes=100)
    await store.set("m", "a", b"12345", 60)
    await store.set("m", "a", b"12", 60)
    assert store.sizes() == (1, 2)


async def test_clear_by_model() -> None:
    store = MemoryStore(max_bytes=100)
    await store.set("one", "a", b"1", 60)
    await store.set("two", "b", b"2", 60)
    assert await store.clear("one") == 1
    assert await store.get("two", "b") == b"2"
    assert await store.clear(None) == 1
    assert store.sizes() == (0, 0)
