from __future__ import annotations

import email.utils

import pytest

from proxy.errors import classify_upstream_status, parse_retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("999999999", 999999999.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("status", "retryable", "breaker", "client_status"),
    [
        (400, False, False, 400),
        (404, False, False, 404),
        (413, False, False, 413),
        (422, False, False, 422),
        (401, True, False, 502),
        (403, True, False, 502),
        (429, True, False, 429),
        (500, True, True, 502),
        (503, True, True, 502),
        (529, True, True, 503),
        (302, True, True, 502),
    ],
)
def test_status_classification(
    status: int, retryable: bool, breaker: bool, client_status: int
) -> None:
    policy = classify_upstream_status(status)
    assert (policy.retryable, policy.counts_for_breaker, policy.client_status) == (
        retryable,
        breaker,
        client_status,
    )


@pytest.mark.parametrize(
    ("code", "message", "headers", "expected"),
    [
        ("insufficient_quota", "You exceeded your current quota", {}, 3600.0),
        (None, "enforced_spend_limit_reached for this key", {}, 3600.0),
        ("rate_limit_exceeded", "slow down", {}, None),
        ("insufficient_quota", "quota", {"retry-after": "5"}, 5.0),
    ],
)
def test_spent_quota_means_long_cooldown(
    code: str | None, message: str, headers: dict[str, str], expected: float | None
) -> None:
    from proxy.errors import upstream_status_error

    error = upstream_status_error("p", 429, message, headers, code=code)
    assert error.retry_after == expected
    assert error.retryable and not error.counts_for_breaker
