"""Sliding-minute counters made of one-second buckets, the arithmetic both backends share.

Why this window: a key with `rpm: 60` must get at most 60 answers in ANY 60 s span, on any
number of replicas. A token bucket (GCRA) lets a full burst through and then refills, i.e. up
to twice the limit per minute; a fixed window allows twice the limit across its edge. Here a
reservation at time t counts every bucket that overlaps [t - 60 s, t] (61 one-second buckets),
so each accepted request sees everything in the minute before it and no 60 s span can ever
hold more than the limit. The price: a request may wait up to one bucket (1 s) longer than
a perfect sliding log would make it. Memory per counter: at most 61 integers.

The Lua script in redis_store.py implements the same rules; tests run both over one table.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

BUCKET_MS = 1000
WINDOW_MS = 60_000
SPAN = WINDOW_MS // BUCKET_MS  # a bucket still counts while it is within SPAN of the current one


def bucket_of(now_ms: int) -> int:
    return now_ms // BUCKET_MS


def prune(buckets: MutableMapping[int, int], now_ms: int) -> int:
    """Drop buckets that left the window; return the sum of the rest."""
    oldest = bucket_of(now_ms) - SPAN
    for b in [b for b in buckets if b < oldest]:
        del buckets[b]
    return sum(buckets.values())


def expiry_ms(bucket: int, now_ms: int) -> int:
    """Milliseconds until `bucket` stops counting."""
    return max(0, (bucket + SPAN + 1) * BUCKET_MS - now_ms)


def reset_ms(buckets: Mapping[int, int], now_ms: int) -> int:
    """Time until the counter is whole again (everything in it has expired): OpenAI's reset."""
    live = [b for b, n in buckets.items() if n > 0]
    return expiry_ms(max(live), now_ms) if live else 0


def retry_ms(buckets: Mapping[int, int], now_ms: int, used: int, cost: int, limit: int) -> int:
    """Time until `cost` fits under `limit`, oldest buckets expiring first."""
    if cost > limit:
        return WINDOW_MS  # never fits; the caller says so in its message
    freed = 0
    for b in sorted(buckets):
        freed += buckets[b]
        if used - freed + cost <= limit:
            return expiry_ms(b, now_ms)
    return WINDOW_MS


@dataclass(slots=True)
class Window:
    """One counter of the memory backend: buckets plus a running total, so the common call
    (nothing expired since the last one) is O(1); pruning runs at most once per bucket."""

    buckets: dict[int, int] = field(default_factory=dict)
    total: int = 0
    oldest: int = 0  # smallest bucket present (0: none yet)
    newest: int = 0  # largest bucket present

    def live_total(self, now_ms: int) -> int:
        if self.buckets and self.oldest < bucket_of(now_ms) - SPAN:
            self.total = prune(self.buckets, now_ms)
            self.oldest = min(self.buckets, default=0)
        return self.total

    def add(self, bucket: int, n: int) -> None:
        if not self.buckets or bucket < self.oldest:
            self.oldest = bucket
        self.newest = max(self.newest, bucket)
        self.buckets[bucket] = self.buckets.get(bucket, 0) + n
        self.total += n

    def adjust(self, bucket: int, delta: int) -> None:
        """Correct a bucket still in the window (an expired one is not resurrected)."""
        old = self.buckets.get(bucket)
        if old is not None:
            new = max(0, old + delta)
            self.buckets[bucket] = new
            self.total += new - old

    def reset_ms(self, now_ms: int) -> int:
        if self.buckets.get(self.newest, 0) > 0:
            return expiry_ms(self.newest, now_ms)
        return reset_ms(self.buckets, now_ms)  # the newest bucket was given back: look
