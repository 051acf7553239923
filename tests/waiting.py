"""The one way tests wait for something: poll a condition until it holds or a deadline passes.

Tests never sleep to let something happen and never assert on elapsed time; they wait here
for the state they need (a request recorded, a metric moved, a breaker closed) and then
assert on that state. The deadline only bounds a failing test.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_TIMEOUT = 5.0


def wait_until(
    check: Callable[[], object], timeout: float = DEFAULT_TIMEOUT, step: float = 0.01
) -> bool:
    """Poll `check` every `step` seconds until it returns something true, for at most
    `timeout` seconds; returns whether it did (callers assert on it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


def let_time_pass(seconds: float) -> None:
    """Let a duration the proxy measures on its own clock go by (a breaker's reset timeout):
    the scenario is "after N seconds", and no outside signal marks the moment without also
    changing the state under test. Not for waiting on something to happen: use wait_until."""
    time.sleep(seconds)
