"""Retry-After, as upstreams send it (RFC 9110 §10.2.3): seconds or an HTTP-date."""

from __future__ import annotations

import email.utils
import math
import time


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After per RFC 9110 §10.2.3: delay-seconds or an HTTP-date.

    Past dates and negative numbers mean 0; anything unparseable means None (the caller
    applies its default back-off); capping is the caller's policy.
    """
    if value is None:
        return None
    value = value.strip()
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _retry_after_from_date(value, now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _retry_after_from_date(value: str, now: float | None) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.timestamp() - (time.time() if now is None else now)
