"""httpx's transport interface over aiohttp, with the per-provider work done once.

httpx-aiohttp's AiohttpTransport (the base class) rebuilds on every request what is constant
for a provider: the URL string and its parse, the aiohttp ClientTimeout, and a mapping of
httpx's headers. This subclass keeps the base's session setup (connector, pool limits, TLS
context) and its exception mapping, and caches the constant parts. Any request the base
handles that this one does not (a proxy) goes to the base unchanged.

The session has no cookie jar (design.md §5: nothing is shared between callers). aiohttp's
default jar keeps every upstream `Set-Cookie` (a provider's, or a WAF's in front of it) and
replays it to every later caller of that provider; it skips IP hosts, so loopback tests
never showed it, but every real provider has a hostname.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
import yarl
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions

_HTTP11 = b"HTTP/1.1"
# Request extension: the URL as text, when the caller has it (saves str(httpx.URL)).
URL_TEXT = "llm_proxy.url_text"
# Request extension: the request's first headers as text, when the caller has them decoded
# already (upstream.py: a provider's constant headers); the rest are decoded per request.
HEADERS_TEXT = "llm_proxy.headers_text"
_AIOHTTP_DEFAULT_LIMIT = 100  # aiohttp.TCPConnector's own default
_TimeoutKey = tuple[float | None, float | None, float | None]


class LeanAiohttpTransport(AiohttpTransport):
    def __init__(self, limits: httpx.Limits, trust_env: bool = False) -> None:
        super().__init__(limits=limits, retries=0, trust_env=trust_env)
        self._urls: dict[str, yarl.URL] = {}
        self._timeouts: dict[_TimeoutKey, aiohttp.ClientTimeout] = {}

    def get_client(self) -> aiohttp.ClientSession:
        """The base's session (same connector settings), but with a jar that keeps nothing."""
        limit = self.limits.max_connections
        connector = aiohttp.TCPConnector(
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
            limit=_AIOHTTP_DEFAULT_LIMIT if limit is None else limit,  # as the base does
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.proxy is not None:
            return await super().handle_async_request(request)
        session = self.client
        if not isinstance(session, aiohttp.ClientSession):
            session = self.client = self.get_client()
        data = _body_of(request)  # first: it may drop a transfer-encoding header
        raw = request.headers.raw
        fixed: tuple[tuple[str, str], ...] = request.extensions.get(HEADERS_TEXT, ())
        headers = [
            *fixed,
            *[(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw[len(fixed) :]],
        ]
        with map_aiohttp_exceptions():
            response = await session.request(
                request.method,
                self._url(request),
                headers=headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request.extensions.get("timeout", {})),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        extensions = {"http_version": _HTTP11}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        # aiohttp's raw headers are bytes already: httpx's per-header normalisation (3.1 us
        # for five headers, against 1.5 us for this) would only re-check them.
        answer_headers = httpx.Headers()
        answer_headers._list = [(k, k.lower(), v) for k, v in response.raw_headers]
        return httpx.Response(
            status_code=response.status,
            headers=answer_headers,
            stream=_ResponseBody(response),
            request=request,
            extensions=extensions,
        )

    def _url(self, request: httpx.Request) -> yarl.URL:
        text = request.extensions.get(URL_TEXT) or str(request.url)
        parsed = self._urls.get(text)
        if parsed is None:
            if len(self._urls) > 1024:
                self._urls.clear()
            parsed = self._urls[text] = yarl.URL(str(request.url), encoded=True)
        return parsed

    def _timeout(self, timeout: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = aiohttp.ClientTimeout(
                sock_connect=key[0], sock_read=key[1], connect=key[2]
            )
        return found


def _body_of(request: httpx.Request) -> bytes | httpx.AsyncByteStream | None:
    try:
        return request.content or None
    except httpx.RequestNotRead:
        request.headers.pop("transfer-encoding", None)  # aiohttp frames the body itself
        return request.stream  # type: ignore[return-value]


class _ResponseBody(httpx.AsyncByteStream):
    """The response body as aiohttp hands it over (no re-chunking into fixed sizes)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with map_aiohttp_exceptions():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        with map_aiohttp_exceptions():
            await self._response.__aexit__(None, None, None)
