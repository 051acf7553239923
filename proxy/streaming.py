"""The response side of a committed stream: pump upstream bytes to the client.

After the commit point nothing may fall back: an upstream failure (stall, reset, clean
close without the terminal event, malformed SSE, the request deadline) ends the client's
stream with one OpenAI-shaped `data: {"error": ...}` event and no [DONE], charges the
provider's breaker, and closes the upstream response. A client disconnect cancels this
generator; the upstream is closed and the provider is not blamed. The caller finishes the
trace once the response's last byte is out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from proxy import metrics
from proxy.errors import UpstreamError, stream_cut_by_shutdown, upstream_transport_error
from proxy.lifecycle import Lifecycle
from proxy.router import OpenStream
from proxy.sse import encode_error_event

SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # tells nginx-style front proxies not to buffer
}


async def pump(stream: OpenStream, lifecycle: Lifecycle) -> AsyncGenerator[bytes, None]:
    health = stream.route.health
    trace = stream.trace
    verdict_given = False
    try:
        trace.mark_first_byte()
        yield stream.first
        if stream.body is not None:
            async with asyncio.timeout_at(stream.deadline) as timeout:
                with lifecycle.stream_deadline(timeout):
                    async for raw in stream.body:
                        out = stream.pipe.feed(raw)
                        if out:
                            yield out
                    closing = stream.pipe.finish()
            yield closing
        health.record_success(stream.admission)
        metrics.observe_attempt(stream.route.name, "ok", None)
        verdict_given = True
    except (UpstreamError, TimeoutError) as exc:
        verdict_given = True
        if isinstance(exc, TimeoutError) and lifecycle.draining:
            health.release(stream.admission)  # our shutdown, not the provider's fault
            trace.outcome = "gateway_shutdown"
            yield encode_error_event(stream_cut_by_shutdown().to_openai_body())
            return
        error = exc if isinstance(exc, UpstreamError) else _deadline_error(stream)
        if error.counts_for_breaker:
            health.record_failure(stream.admission, error)
        else:
            health.release(stream.admission, error)
        trace.outcome = error.outcome
        metrics.observe_attempt(stream.route.name, error.outcome, None)
        yield encode_error_event(error.to_openai_body())
    except BaseException:
        trace.outcome, trace.client_disconnected = "client_disconnect", True
        metrics.observe_attempt(stream.route.name, "client_disconnect", None)
        raise
    finally:
        if not verdict_given:
            health.release(stream.admission)
        await stream.response.aclose()
        trace.usage = stream.pipe.usage


def _deadline_error(stream: OpenStream) -> UpstreamError:
    return upstream_transport_error(
        stream.route.name, "timeout", "the stream ran past the request deadline"
    )
