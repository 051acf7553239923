# The compiled span recorder (proxy/_tracing_span.c): RequestSpan's interface.
from collections.abc import Callable
from typing import Any

from proxy.tracing import Tracer
from proxy.tracing_span import RequestSpan

Span: Callable[..., RequestSpan]

def root(tracer: Tracer, sampled: bool, /) -> RequestSpan | None: ...
def configure(
    *,
    span_class: type[RequestSpan],
    getrandbits: Callable[[int], int],
    usage: Callable[[int, int, int, int], bytes],
    ttft_head: bytes,
    request_tail: bytes,
    chat_name: bytes,
    usage_keys: tuple[bytes, ...],
    response_id_key: bytes,
    replies: dict[str, Any],
    reply_form: Callable[[str], Any],
    parameters: tuple[str, ...],
) -> None: ...
