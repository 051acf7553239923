"""The only module doing outbound HTTP: one pooled client per provider, timeouts, bounded reads.

Production uses httpx over the aiohttp transport (design.md §6: 4x httpx's own transport);
tests inject httpx's default transport, which pytest-httpx mocks. Redirects are never
followed (an upstream 302 must not carry our provider key elsewhere) and the HTTP client
never retries on its own: retry policy belongs to router.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from proxy.config import ProviderConfig
from proxy.errors import UpstreamError, upstream_transport_error
from proxy.providers.base import UpstreamRequest

TransportFactory = Callable[[ProviderConfig], httpx.AsyncBaseTransport]

# Transport-level exceptions an attempt can raise (httpx wraps most aiohttp ones, not all).
TRANSPORT_ERRORS = (httpx.TransportError, aiohttp.ClientError, OSError)


def aiohttp_transport(config: ProviderConfig) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(max_connections=config.max_connections, keepalive_expiry=30)
    return AiohttpTransport(limits=limits, retries=0, trust_env=False)


def httpx_transport(config: ProviderConfig) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(max_connections=config.max_connections, keepalive_expiry=30)
    return httpx.AsyncHTTPTransport(limits=limits, retries=0, trust_env=False)


class Upstream:
    """One provider's connection pool and its timeout policy."""

    def __init__(self, config: ProviderConfig, transport: httpx.AsyncBaseTransport) -> None:
        self.provider = config.name
        self.ttfb_timeout = config.ttfb_timeout  # enforced by the router around open()
        # The transport's read timeout bounds every wait, the header wait included, so it
        # is the larger of the two; a shorter idle timeout is enforced per read instead.
        read = max(config.ttfb_timeout, config.idle_timeout)
        self._idle = config.idle_timeout if config.idle_timeout < read else None
        timeout = {"connect": config.connect_timeout, "read": read, "write": read}
        self._extensions = {"timeout": {**timeout, "pool": config.ttfb_timeout}}
        # The transport is called directly, not through httpx.AsyncClient: the client's
        # request building, cookie jar and redirect machinery cost a quarter of the proxy's
        # CPU per request (bench/), and a shared cookie jar would replay one caller's
        # upstream Set-Cookie on everybody's requests. No redirects are followed: a 3xx is
        # just a response.
        self._transport = transport
        self._urls: dict[str, httpx.URL] = {}

    async def open(self, req: UpstreamRequest, request_id: str) -> httpx.Response:
        """Send the request and return once the response headers are in. The caller must
        close the response (`await response.aclose()`) in a `finally`."""
        url = self._urls.get(req.url) or self._parsed(req.url)
        headers = [*req.headers.items(), ("x-request-id", request_id)]
        request = httpx.Request(
            "POST", url, headers=headers, content=req.body, extensions=self._extensions
        )
        try:
            return await self._transport.handle_async_request(request)
        except TRANSPORT_ERRORS as exc:
            raise transport_failure(self.provider, exc, before_response=True) from exc

    def _parsed(self, url: str) -> httpx.URL:
        if len(self._urls) > 1024:  # one per upstream model: small unless models churn
            self._urls.clear()
        parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def read_body(self, response: httpx.Response, limit: int) -> bytes:
        """The whole body, aborted at `limit` bytes so a huge reply cannot exhaust memory."""
        parts: list[bytes] = []
        size = 0
        async for part in self.iter_body(response):
            size += len(part)
            if size > limit:
                raise upstream_transport_error(
                    self.provider, "response_too_large", f"the response exceeded {limit} bytes"
                )
            parts.append(part)
        return b"".join(parts)

    async def iter_body(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            if self._idle is None:
                async for part in response.aiter_bytes():
                    yield part
                return
            parts = response.aiter_bytes().__aiter__()
            while True:
                try:
                    async with asyncio.timeout(self._idle):
                        part = await anext(parts)
                except StopAsyncIteration:
                    return
                yield part
        except TRANSPORT_ERRORS as exc:
            raise transport_failure(self.provider, exc, before_response=False) from exc
        except TimeoutError as exc:
            raise upstream_transport_error(self.provider, "timeout", "the stream stalled") from exc

    async def aclose(self) -> None:
        await self._transport.aclose()


def transport_failure(provider: str, exc: BaseException, before_response: bool) -> UpstreamError:
    """Classify a transport exception; the message names the kind, never a URL or key."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, aiohttp.ServerTimeoutError):
        # httpx-aiohttp maps every aiohttp ClientConnectionError (a reset, a server that
        # hung up) to httpx.ConnectTimeout; classify by the real cause instead.
        exc = cause
    if isinstance(exc, httpx.ConnectError | aiohttp.ClientConnectorError):
        return upstream_transport_error(provider, "connect_error", "could not connect")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        what = "no response in time" if before_response else "the stream stalled"
        return upstream_transport_error(provider, "timeout", what)
    if before_response:
        return upstream_transport_error(provider, "connect_error", type(exc).__name__)
    return upstream_transport_error(
        provider, "stream_error", f"connection lost ({type(exc).__name__})"
    )
