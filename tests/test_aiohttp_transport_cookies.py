"""LeanAiohttpTransport keeps no cookies: an upstream's Set-Cookie is never replayed.

The upstream is addressed as `localhost`, not 127.0.0.1: aiohttp's default cookie jar
ignores IP hosts, so only a hostname upstream (every real provider) shows the leak.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from proxy.aiohttp_transport import LeanAiohttpTransport

TIMEOUT = {"connect": 1.0, "read": 5.0, "write": 5.0, "pool": 5.0}


async def _answer(request: Request) -> JSONResponse:
    # Every answer sets a cookie (as a provider's load balancer or WAF may) and reports the
    # Cookie header it was sent.
    response = JSONResponse({"cookie": request.headers.get("cookie")})
    response.set_cookie("session", "caller-one-session", path="/")
    return response


APP = Starlette(routes=[Route("/v1/chat/completions", _answer, methods=["POST"])])


@pytest.fixture
def hostname_base(serve: Callable[..., str]) -> str:
    return serve(APP).replace("127.0.0.1", "localhost")


async def _post(lean: LeanAiohttpTransport, url: str) -> object:
    request = httpx.Request("POST", url, content=b"{}", extensions={"timeout": TIMEOUT})
    response = await lean.handle_async_request(request)
    try:
        body = await response.aread()
    finally:
        await response.aclose()
    assert "set-cookie" in response.headers  # the upstream did set one
    return httpx.Response(200, content=body).json()["cookie"]


async def test_an_upstream_cookie_is_not_sent_to_the_next_caller(hostname_base: str) -> None:
    lean = LeanAiohttpTransport(limits=httpx.Limits(max_connections=4))
    url = f"{hostname_base}/v1/chat/completions"
    try:
        first = await _post(lean, url)
        second = await _post(lean, url)
    finally:
        await lean.aclose()
    assert first is None
    assert second is None  # on the old code: "session=caller-one-session"
