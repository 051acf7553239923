"""The answers the HTTP protocol (http_protocol.py) sends itself, before the app sees a
request: a head or a body past its bound, a connection past the limit. Each closes the
connection (`Connection: close`): what the client sends next cannot be trusted to start a
new request.
"""

from __future__ import annotations

from proxy.errors import ProxyError


def header_too_large(limit: int, count: int) -> ProxyError:
    return ProxyError(
        431,
        "invalid_request_error",
        f"Request headers are larger than the proxy's limit of {limit} bytes or {count} fields.",
        code="request_header_too_large",
        headers={"connection": "close"},
    )


def request_timeout(what: str, seconds: float) -> ProxyError:
    return ProxyError(
        408,
        "invalid_request_error",
        f"The request's {what} did not arrive within {seconds:g}s; send it at once.",
        code="request_timeout",
        headers={"connection": "close"},
    )


def body_too_costly(limit: int) -> ProxyError:
    return ProxyError(
        413,
        "invalid_request_error",
        f"Request body would take more than the proxy's limit of {limit} bytes of memory once "
        "parsed (it holds very many small JSON values); send a smaller request.",
        code="request_too_large",
        headers={"connection": "close"},
    )


def body_memory_exhausted(retry_after: int = 1) -> ProxyError:
    return ProxyError(
        503,
        "service_unavailable",
        "The proxy holds as many request bodies as its memory allows; retry shortly.",
        code="overloaded",
        headers={"connection": "close", "retry-after": str(retry_after)},
    )


def too_many_connections(retry_after: int = 1) -> ProxyError:
    return ProxyError(
        503,
        "service_unavailable",
        "The proxy is at its connection limit; retry shortly.",
        code="too_many_connections",
        headers={"connection": "close", "retry-after": str(retry_after)},
    )
