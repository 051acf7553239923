"""Raw ASGI plumbing for the hot path: header lookup, bounded body reads, whole responses,
and the one place a ProxyError becomes HTTP bytes.

The chat endpoint speaks ASGI directly (no Request/Response objects, no router): at one
request in flight, Starlette's per-request layers were a tenth of the time the proxy adds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from starlette.types import Receive, Send

from proxy.errors import ProxyError, body_too_large, unsupported_media_type

RawHeaders = list[tuple[bytes, bytes]]
JSON_TYPE = b"application/json"


class ClientDisconnected(Exception):
    """The client went away before its answer; nobody is left to answer."""


def first_headers(raw: Iterable[tuple[bytes, bytes]], wanted: frozenset[bytes]) -> dict[bytes, str]:
    """The first value of each wanted (lower-case) header, decoded as latin-1, in one pass."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in wanted and name not in found:
            found[name] = value.decode("latin-1")
    return found


async def read_body(receive: Receive, limit: int, declared_length: str | None) -> bytes:
    """The whole request body; 413 once it passes `limit` (before reading a byte of it when
    Content-Length already says so)."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise body_too_large(limit)
    message = await receive()
    body: bytes = message.get("body", b"")
    if message["type"] == "http.request" and not message.get("more_body", False):
        if len(body) > limit:
            raise body_too_large(limit)
        return body  # the common case: one message, no joining
    parts = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        part: bytes = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise body_too_large(limit)
        parts.append(part)
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    return b"".join(parts)


async def send_whole(send: Send, status: int, body: bytes, headers: RawHeaders) -> None:
    """A complete response; `headers` must not hold content-length (added here)."""
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_parts(error: ProxyError) -> tuple[bytes, RawHeaders]:
    """The OpenAI error envelope and its headers (content-type, Retry-After, ...)."""
    headers = [(b"content-type", JSON_TYPE)]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    return error.to_openai_body(), headers


async def send_error(send: Send, error: ProxyError) -> None:
    body, headers = error_parts(error)
    await send_whole(send, error.status, body, headers)


_JSON_CONTENT = re.compile(r"^\s*application/([\w.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)


async def read_json_body(receive: Receive, headers: Mapping[bytes, str], limit: int) -> bytes:
    """The body of a JSON POST, for every surface: 415 for another declared content type
    (none is taken as JSON, as curl sends), 413 past `limit` bytes."""
    content_type = headers.get(b"content-type")
    if content_type is not None and not _JSON_CONTENT.match(content_type):
        raise unsupported_media_type(content_type)
    return await read_body(receive, limit, headers.get(b"content-length"))
