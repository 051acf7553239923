"""The per-process flight record: bounded by its limit, admits no one once it overflowed,
wakes its followers, and lets a detached leader's call be cancelled by the last follower."""

from __future__ import annotations

import asyncio

from proxy.cache.flights import Flights


async def test_record_is_bounded_and_stops_admitting_past_its_limit() -> None:
    flights = Flights()
    flight = flights.open("k", limit=10)
    flight.record(b"12345")
    flight.record(b"67890")
    assert flights.join("k") is flight and flight.base == 0
    flight.record(b"abc")
    assert flights.join("k") is None  # a late joiner could not get the whole answer
    assert flight.size <= 10 and flight.base == 1 and list(flight.parts) == [b"67890", b"abc"]


async def test_followers_are_woken_by_each_record_and_the_end() -> None:
    flight = Flights().open("k", limit=100)
    woken = asyncio.create_task(flight.changed())
    await asyncio.sleep(0)
    flight.record(b"x")
    async with asyncio.timeout(5):
        await woken
    ended = asyncio.create_task(flight.changed())
    await asyncio.sleep(0)
    flight.end(None, None)
    async with asyncio.timeout(5):
        await ended
    assert flight.ended and flight.entry is None


async def test_detach_needs_followers_and_the_last_one_out_cancels_the_leader() -> None:
    flight = Flights().open("k", limit=100)
    cancelled: list[bool] = []
    flight.cancel_leader = lambda: cancelled.append(True)
    assert not flight.detach()  # nobody to go on for: the leader's call is cancelled as usual
    flight.followers = 2
    assert flight.detach() and flight.detached
    flight.leave()
    assert cancelled == []
    flight.leave()
    assert cancelled == [True]


async def test_close_ends_the_flight_and_frees_the_key_for_a_new_leader() -> None:
    flights = Flights()
    old = flights.open("k", limit=1)
    old.record(b"too large")
    new = flights.open("k", limit=100)  # the overflowed flight admits no one: a new leader
    flights.close("k", old, None, None)
    assert old.ended and flights.join("k") is new
    flights.close("k", new, None, None)
    assert len(flights) == 0


async def test_an_overflowed_record_nobody_follows_is_not_held() -> None:
    flight = Flights().open("k", limit=4)
    flight.record(b"12345")
    flight.record(b"678")
    assert not flight.parts and flight.size == 0 and flight.base == 2
