"""OpenAI's rate-limit headers and their duration format.

`x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; a reset is the time until the limit
is whole again, written like Go's time.Duration as OpenAI does (`1s`, `6m0s`, `12ms`).
Retry-After is whole seconds, at least 1.
"""

from __future__ import annotations

Header = tuple[bytes, bytes]


def duration(ms: int) -> str:
    """Go-style duration at millisecond resolution: 0s, 12ms, 1.5s, 6m0s, 1h2m3s."""
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    text = f"{seconds}.{millis:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def retry_after_seconds(ms: int) -> int:
    return max(1, -(-ms // 1000))


def rate_headers(kind: str, limit: int | None, used: int, reset_ms: int) -> tuple[Header, ...]:
    """The three headers for `kind` (requests or tokens); none when that limit is not set."""
    if limit is None:
        return ()
    return (
        (f"x-ratelimit-limit-{kind}".encode(), str(limit).encode()),
        (f"x-ratelimit-remaining-{kind}".encode(), str(max(0, limit - used)).encode()),
        (f"x-ratelimit-reset-{kind}".encode(), duration(reset_ms).encode()),
    )
