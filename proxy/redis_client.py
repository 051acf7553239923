"""One way to open Redis for the state store (tenancy) and the cache: every call bounded.

A blocking pool: a burst beyond `max_connections` waits for a socket (within the same timeout)
instead of failing at once. No retries inside a call: the bound is the bound; the client
reconnects by itself on the next call. Imported only when a redis backend is configured.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


def bounded_redis(url: str, timeout: float, max_connections: int) -> Redis:
    """A client whose connect, every command and every wait for a socket end by `timeout` s."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    return Redis(connection_pool=pool)
