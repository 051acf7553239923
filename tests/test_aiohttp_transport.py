"""LeanAiohttpTransport: httpx's transport contract over aiohttp, constant parts cached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from proxy.aiohttp_transport import HEADERS_TEXT, URL_TEXT, LeanAiohttpTransport
from tests.servers import free_port

TIMEOUT = {"connect": 1.0, "read": 5.0, "write": 5.0, "pool": 5.0}


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    headers = {k: v for k, v in request.headers.items() if k.startswith("x-")}
    return JSONResponse(
        {"body": body.decode(), "headers": headers, "host": request.headers["host"]},
        status_code=201,
        headers={"x-upstream": "yes"},
    )


async def _chunks(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"data: %d\n\n" % i

    return StreamingResponse(parts(), media_type="text/event-stream")


APP = Starlette(
    routes=[Route("/echo", _echo, methods=["POST"]), Route("/sse", _chunks, methods=["POST"])]
)


@pytest.fixture
def base(serve: Callable[..., str]) -> str:
    return serve(APP)


def transport() -> LeanAiohttpTransport:
    return LeanAiohttpTransport(limits=httpx.Limits(max_connections=4))


def post(
    url: str | httpx.URL, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> httpx.Request:
    request = httpx.Request(
        "POST", url, headers=headers, content=body, extensions={"timeout": TIMEOUT}
    )
    return request


async def test_status_headers_and_body_come_back(base: str) -> None:
    lean = transport()
    try:
        response = await lean.handle_async_request(post(f"{base}/echo", b"hello", {"x-id": "7"}))
        body = await response.aread()
    finally:
        await lean.aclose()
    assert response.status_code == 201
    assert response.headers["x-upstream"] == "yes"
    assert response.reason_phrase == "Created"
    payload = httpx.Response(200, content=body).json()
    assert payload["body"] == "hello"
    assert payload["headers"]["x-id"] == "7"
    assert payload["host"] == base.removeprefix("http://")


async def test_a_stream_body_is_sent_and_a_stream_answer_read(base: str) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"he"
        yield b"llo"

    lean = transport()
    try:
        request = httpx.Request(
            "POST", f"{base}/echo", content=parts(), extensions={"timeout": TIMEOUT}
        )
        echoed = await (await lean.handle_async_request(request)).aread()
        streamed = await lean.handle_async_request(post(f"{base}/sse"))
        received = b"".join([chunk async for chunk in streamed.aiter_bytes()])
        await streamed.aclose()
    finally:
        await lean.aclose()
    assert httpx.Response(200, content=echoed).json()["body"] == "hello"
    assert received == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


async def test_url_and_timeout_are_parsed_once(base: str) -> None:
    lean = transport()
    try:
        for extensions in ({}, {URL_TEXT: f"{base}/echo"}, {}):
            request = post(f"{base}/echo")
            request.extensions.update(extensions)
            response = await lean.handle_async_request(request)
            await response.aread()
            await response.aclose()
    finally:
        await lean.aclose()
    assert list(lean._urls) == [f"{base}/echo"]
    assert len(lean._timeouts) == 1
    (timeout,) = lean._timeouts.values()
    assert (timeout.sock_connect, timeout.sock_read, timeout.connect) == (1.0, 5.0, 5.0)


async def test_connection_refused_is_an_httpx_error_caused_by_aiohttp() -> None:
    """httpx-aiohttp's own mapping (kept) names it ConnectTimeout; upstream.transport_failure
    classifies by the aiohttp cause."""
    lean = transport()
    try:
        with pytest.raises(httpx.TransportError) as caught:
            await lean.handle_async_request(post(f"http://127.0.0.1:{free_port()}/echo"))
    finally:
        await lean.aclose()
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def test_headers_given_as_text_lead_and_the_rest_follow(base: str) -> None:
    """HEADERS_TEXT (upstream.py's constant headers, decoded once) leads the request's
    headers; what the request has after them is decoded per request."""
    request = post(f"{base}/echo", b"{}", {"X-Fixed": "f"})
    request.headers._list.append((b"x-request-id", b"x-request-id", b"r1"))
    fixed = tuple((k.decode(), v.decode()) for k, v in request.headers.raw[:1])
    request.extensions[HEADERS_TEXT] = fixed
    lean = transport()
    try:
        response = await lean.handle_async_request(request)
        body = await response.aread()
    finally:
        await lean.aclose()
    headers = httpx.Response(200, content=body).json()["headers"]
    assert headers["x-fixed"] == "f" and headers["x-request-id"] == "r1"
    # The answer's headers as httpx would give them: case-insensitive, raw names kept.
    assert response.headers["X-UPSTREAM"] == "yes"
    assert (b"x-upstream", b"yes") in response.headers.raw
