from __future__ import annotations

import pytest

from proxy.tenancy.headers import duration, rate_headers, retry_after_seconds


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (-5, "0s"),
        (12, "12ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1500, "1.5s"),
        (8640, "8.64s"),
        (59_999, "59.999s"),
        (60_000, "1m0s"),
        (360_000, "6m0s"),
        (61_500, "1m1.5s"),
        (3_600_000, "1h0m0s"),
        (3_723_000, "1h2m3s"),
    ],
)
def test_durations_are_written_like_openai(ms: int, text: str) -> None:
    assert duration(ms) == text


@pytest.mark.parametrize(("ms", "seconds"), [(0, 1), (1, 1), (1000, 1), (1001, 2), (59_500, 60)])
def test_retry_after_is_whole_seconds_at_least_one(ms: int, seconds: int) -> None:
    assert retry_after_seconds(ms) == seconds


def test_rate_headers() -> None:
    assert rate_headers("requests", None, 3, 100) == ()
    assert rate_headers("tokens", 1000, 1200, 6000) == (
        (b"x-ratelimit-limit-tokens", b"1000"),
        (b"x-ratelimit-remaining-tokens", b"0"),
        (b"x-ratelimit-reset-tokens", b"6s"),
    )
