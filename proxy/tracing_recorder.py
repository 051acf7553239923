"""Which span recorder a request gets: the compiled one (proxy/_tracing_span.c), or
tracing_span.RequestSpan, the same spans in Python. Both are made the same way, and take
the same calls; tests/test_tracing_span.py runs its cases through both.

The compiled one is built by setup.py where a C compiler is (pip install, the Docker
image's build stage); PROXY_PURE_PYTHON=1 makes the proxy use the Python one even so.
Measured (bench/README.md): the compiled recorder's span calls cost a fraction of the
Python ones' (callgrind), which is what keeps tracing within issue 13's 40 us a request."""

from __future__ import annotations

import os
from collections.abc import Callable
from random import getrandbits
from time import time_ns
from typing import TYPE_CHECKING

from proxy import tracing_attributes as attrs
from proxy import tracing_span

if TYPE_CHECKING:
    from proxy.tracing import Tracer

RequestSpan = tracing_span.RequestSpan
SpanClass = Callable[..., RequestSpan]  # (tracer, trace_id, span_id, sampled, start, ...)
Root = Callable[["Tracer", bool], "RequestSpan | None"]
_NO_TRACE, _NO_SPAN = bytes(16), bytes(8)  # all-zero ids are invalid (W3C, OpenTelemetry)


def python_root(tracer: Tracer, sampled: bool) -> RequestSpan | None:
    """A span with no caller's trace, both ids from one draw (the trace's 16 bytes, the
    span's 8) as the SDK's RandomIdGenerator draws them; None if one came out all zeros."""
    drawn = getrandbits(192).to_bytes(24, "big")
    trace_id, span_id = drawn[:16], drawn[16:]
    if trace_id == _NO_TRACE or span_id == _NO_SPAN:
        return None
    return RequestSpan(tracer, trace_id, span_id, sampled, time_ns())


PYTHON: tuple[SpanClass, Root] = (RequestSpan, python_root)


def _compiled() -> tuple[SpanClass, Root] | None:
    try:
        from proxy import _tracing_span as compiled
    except ImportError:  # built without a C compiler
        return None
    compiled.configure(
        span_class=RequestSpan,
        getrandbits=getrandbits,
        usage=attrs.usage,
        ttft_head=tracing_span.TTFT_HEAD,
        request_tail=tracing_span.REQUEST_TAIL,
        chat_name=tracing_span.CHAT,
        usage_keys=tuple(attrs.field(b"\x0a", key.encode()) for key in attrs.USAGE_KEYS),
        response_id_key=attrs.field(b"\x0a", b"gen_ai.response.id"),
        replies=tracing_span.REPLIES,
        reply_form=tracing_span.reply_form,
        parameters=tuple(tracing_span.PARAMETERS),
    )
    return compiled.Span, compiled.root


COMPILED = _compiled()


def chosen() -> tuple[SpanClass, Root]:
    """The compiled recorder where it was built, unless PROXY_PURE_PYTHON=1."""
    if COMPILED is None or os.environ.get("PROXY_PURE_PYTHON", "") not in ("", "0"):
        return PYTHON
    return COMPILED
