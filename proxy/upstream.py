"""The only module doing outbound HTTP: one pooled client per provider, timeouts, bounded reads.

Production uses httpx over the aiohttp transport (design.md §6: 4x httpx's own transport);
tests inject httpx's default transport, which pytest-httpx mocks. Redirects are never
followed (an upstream 302 must not carry our provider key elsewhere) and the HTTP client
never retries on its own: retry policy belongs to router.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from proxy.aiohttp_transport import HEADERS_TEXT, URL_TEXT, LeanAiohttpTransport
from proxy.config import ProviderConfig
from proxy.errors import UpstreamError, upstream_transport_error
from proxy.fair_gate import PoolSlot
from proxy.providers.base import UpstreamRequest

TransportFactory = Callable[[ProviderConfig], httpx.AsyncBaseTransport]
# traceparent (and tracestate) naming the attempt's span, in httpx's (name, lowercased
# name, value) form; empty with tracing off.
TraceHeaders = tuple[tuple[bytes, bytes, bytes], ...]

# Transport-level exceptions an attempt can raise (httpx wraps most aiohttp ones, not all).
TRANSPORT_ERRORS = (httpx.TransportError, aiohttp.ClientError, OSError)


def aiohttp_transport(config: ProviderConfig) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(max_connections=config.max_connections, keepalive_expiry=30)
    return LeanAiohttpTransport(limits=limits, trust_env=False)


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
        # The gate admits no more requests than aiohttp's pool has connections, so aiohttp's
        # own pool wait (its `connect` timeout, fed from "pool") is only the connect itself.
        self._extensions = {"timeout": {**timeout, "pool": config.ttfb_timeout}}
        # The transport is called directly, not through httpx.AsyncClient: the client's
        # request building, cookie jar and redirect machinery cost a quarter of the proxy's
        # CPU per request (bench/), and a shared cookie jar would replay one caller's
        # upstream Set-Cookie on everybody's requests. No redirects are followed: a 3xx is
        # just a response.
        self._transport = transport
        # First come, first served slots in front of aiohttp's own pool (fair_gate.py).
        self._gate = asyncio.Semaphore(config.max_connections)
        self.max_connections = config.max_connections
        self.pool_timeout = config.pool_timeout
        self._targets: dict[str, _Target] = {}

    def slot(self, deadline: float) -> PoolSlot:
        """`async with upstream.slot(deadline) as slot:` around `open(..., slot)`: the wait
        for a free connection, bounded by pool_timeout and the request deadline. It is not
        the provider's time: start the provider's clocks after it (`slot.waited`)."""
        return PoolSlot(self._gate, self.provider, deadline, self.pool_timeout)

    def pool_usage(self) -> tuple[int, int]:
        """(connection slots in use, requests queued for one), for the status page: read
        off the gate's own counters, so the request path does no extra work for it. They
        are private but typed in typeshed and unchanged from 3.11.2 to 3.13 (fair_gate.py);
        tests/test_status.py checks both on the Python we run."""
        gate = self._gate
        return self.max_connections - gate._value, len(gate._waiters or ())

    async def open(
        self, req: UpstreamRequest, request_id: str, slot: PoolSlot, tracing: TraceHeaders = ()
    ) -> httpx.Response:
        """Send the request and return once the response headers are in. The caller must
        close the response (`await response.aclose()`) in a `finally`; a response still to
        be read holds `slot` until it is closed. `tracing` is added per attempt: the
        target's headers are encoded once and shared by every request."""
        target = self._targets.get(req.url)
        if target is None or target.headers is not req.headers:
            target = self._target(req)
        body = req.body
        # A copy of the target's encoded headers (httpx copies a Headers' list as it is), and
        # the request's own, added in httpx's (name, lowercased name, value) form: httpx's
        # normalisation of every header was 1.6 us of the 2.6 us it took to build them.
        headers = httpx.Headers(target.template)
        headers._list += [
            (b"x-request-id", b"x-request-id", request_id.encode()),
            (b"content-length", b"content-length", str(len(body)).encode()),
        ]
        if tracing:  # already in httpx's form (tracing_span.py)
            headers._list += tracing
        # A ready byte stream: httpx's own body encoding is skipped too.
        request = httpx.Request(
            "POST",
            target.url,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions=target.extensions,
        )
        request.read()
        try:
            response = await self._transport.handle_async_request(request)
        except TRANSPORT_ERRORS as exc:
            raise transport_failure(self.provider, exc, before_response=True) from exc
        if not response.is_closed:  # a body already read into memory holds no connection
            response.stream = slot.hand_to(response.stream)  # type: ignore[arg-type]
        return response

    def _target(self, req: UpstreamRequest) -> _Target:
        if len(self._targets) > 1024:  # one per upstream model: small unless models churn
            self._targets.clear()
        target = self._targets[req.url] = _Target.of(req, self._extensions)
        return target

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


@dataclass(frozen=True, slots=True)
class _Target:
    """An upstream URL with its request headers, parsed and encoded once."""

    headers: Mapping[str, str]  # the adapter's (constant) mapping this was encoded from
    url: httpx.URL
    template: httpx.Headers  # copied by every request, which adds its own after these
    extensions: dict[str, Any]

    @classmethod
    def of(cls, req: UpstreamRequest, extensions: dict[str, Any]) -> _Target:
        url = httpx.URL(req.url)
        host = url.netloc  # what httpx itself would send as Host
        encoded = tuple((k.lower().encode(), v.encode()) for k, v in req.headers.items())
        template = httpx.Headers(((b"host", host), *encoded))
        # The URL's text rides along for LeanAiohttpTransport's parse cache: httpx copies
        # the URL into every request, and turning it back into text costs microseconds;
        # likewise these headers as aiohttp takes them (text), which lead every request's.
        fixed = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in template.raw)
        extensions = {**extensions, URL_TEXT: req.url, HEADERS_TEXT: fixed}
        return cls(req.headers, url, template, extensions)


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
