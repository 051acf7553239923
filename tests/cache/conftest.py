from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for this module's tests (each uses its own key prefix)."""
    server = RedisServer()
    server.start()
    yield server
    server.close()
