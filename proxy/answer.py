"""How every surface's raw ASGI handler ends when its work raised: the one place a request's
failure becomes an answer (in the surface's own error shape) and its account is written.

- ProxyError: the surface's error envelope (status from `asgi.error_parts`), with a limited
  named key's `x-ratelimit-*` headers, which every answer to it carries.
- ClientDisconnected: nobody reads an answer; the account says 499 (nginx's code).
- Anything else is a bug of ours: logged with its traceback, a 500, unless a stream already
  wrote its account (then uvicorn closes the connection).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.types import Send

from proxy.asgi import ClientDisconnected
from proxy.errors import ProxyError, internal_error
from proxy.trace import RequestTrace

log = logging.getLogger("proxy")
ErrorSender = Callable[[Send, ProxyError], Awaitable[None]]


async def answer_failures(
    work: Awaitable[None], send: Send, trace: RequestTrace, send_error: ErrorSender
) -> None:
    """Await the handler's work; turn what it raised into the answer and the account."""
    try:
        await work
    except ProxyError as error:
        trace.outcome = getattr(error, "outcome", None) or error.code or error.type
        if trace.rate_headers:  # every answer to a limited named key carries them
            error.headers = {**decoded(trace.rate_headers), **error.headers}
        await send_error(send, error)
        trace.finish(error.status)
    except ClientDisconnected:
        trace.outcome, trace.client_disconnected = "client_disconnect", True
        trace.finish(499)
    except Exception as exc:
        if trace.finished:
            raise  # a stream whose account is written: uvicorn closes the connection
        log.exception("unhandled error", exc_info=exc)
        await send_error(send, internal_error())
        trace.finish(500)


def decoded(headers: tuple[tuple[bytes, bytes], ...]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
