"""Upstream's pool: its default size follows the server's in-flight limit (issue 10), and a
wait for a free connection is the proxy's own outcome, never the provider's (issue 16)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from proxy.config import ProviderConfig, parse_config
from proxy.errors import UpstreamError
from proxy.providers.base import UpstreamRequest
from proxy.upstream import Upstream, aiohttp_transport

REQUEST = UpstreamRequest("http://127.0.0.1:9/v1/chat/completions", {}, b"{}", False)


def _provider(fields: str = "", server: str = "") -> ProviderConfig:
    text = (
        f'providers: {{up: {{type: openai, base_url: "http://127.0.0.1:9/v1"{fields}}}}}\n'
        f"models: {{m: [{{provider: up, model: m}}]}}\nauth: {{disabled: true}}\n{server}"
    )
    return parse_config(text, {}).providers["up"]


class _Endless(httpx.AsyncByteStream):
    """A body still to be read, like a socket's: its response holds a connection."""

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield b"{}"


def _streaming(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=_Endless())


async def _open(upstream: Upstream, deadline_in: float = 60.0) -> httpx.Response:
    loop = asyncio.get_running_loop()
    async with upstream.slot(loop.time() + deadline_in) as slot:
        return await upstream.open(REQUEST, "r", slot)


async def test_the_aiohttp_pool_follows_max_in_flight_by_default() -> None:
    transport = aiohttp_transport(_provider(server="server: {max_in_flight: 1500}\n"))
    session = transport.get_client()  # type: ignore[attr-defined]
    try:
        assert session.connector.limit == 1500  # aiohttp's own default would be 100
    finally:
        await session.close()


async def test_the_default_pool_admits_every_request_the_server_admits() -> None:
    # 150 open responses at once: more than the old fixed default of 100 connections.
    upstream = _upstream_for(_provider(server="server: {max_in_flight: 150}\n"))
    async with asyncio.timeout(10):  # a bound for a hang, not a measurement
        responses = await asyncio.gather(*(_open(upstream) for _ in range(150)))
    waiting = asyncio.create_task(_open(upstream, deadline_in=60))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()  # the 151st waits: the pool is bounded, by max_in_flight
    await responses[0].aclose()
    async with asyncio.timeout(10):
        await (await waiting).aclose()
    for response in responses[1:]:
        await response.aclose()


def _upstream_for(config: ProviderConfig) -> Upstream:
    return Upstream(config, httpx.MockTransport(_streaming))


@pytest.mark.parametrize(
    ("fields", "deadline_in"),
    [
        (", max_connections: 1, pool_timeout: 0.05", 60.0),  # its own bound runs out
        (", max_connections: 1", 0.05),  # the request's deadline comes first
    ],
)
async def test_a_wait_for_a_full_pool_ends_in_pool_timeout_not_charged(
    fields: str, deadline_in: float
) -> None:
    upstream = _upstream_for(_provider(fields))
    held = await _open(upstream)
    with pytest.raises(UpstreamError) as caught:
        await _open(upstream, deadline_in)
    error = caught.value
    assert error.outcome == "pool_timeout"
    assert not error.counts_for_breaker and error.retryable  # the next deployment may have room
    assert (error.status, error.code) == (503, "pool_exhausted")
    assert error.headers["retry-after"] == "1"
    assert "connection pool for provider 'up'" in error.message
    await held.aclose()
    await (await _open(upstream)).aclose()  # and the slot count is intact
