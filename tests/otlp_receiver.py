"""A real OTLP/HTTP trace receiver for tests: POST /v1/traces with a protobuf
ExportTraceServiceRequest, decoded with the official opentelemetry-proto package.

Serve `OtlpReceiver().app()` with the `serve` fixture and point the proxy at it with
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=<url>/v1/traces; spans arrive from the exporter's
thread, so tests wait for them (`wait_for`).
"""

from __future__ import annotations

import gzip
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.waiting import wait_until


@dataclass(frozen=True)
class Span:
    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind: 2 server, 3 client
    trace_id: str  # hex
    span_id: str
    parent_span_id: str  # "" for a root span
    attributes: dict[str, Any]
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    service_name: str


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.exports = 0
        self.encodings: list[str | None] = []  # each export's Content-Encoding
        self.headers: list[dict[str, str]] = []  # each export's headers
        self._lock = threading.Lock()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/traces", self._export, methods=["POST"])])

    async def _export(self, request: Request) -> Response:
        assert request.headers.get("content-type") == "application/x-protobuf"
        body = await request.body()
        encoding = request.headers.get("content-encoding")
        if encoding == "gzip":  # OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION=gzip
            body = gzip.decompress(body)
        elif encoding == "deflate":  # the SDK's deflate is zlib.compress
            body = zlib.decompress(body)
        message = ExportTraceServiceRequest.FromString(body)
        spans = []
        for resource_spans in message.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                spans.extend(_span(s, str(resource.get("service.name"))) for s in scope_spans.spans)
        with self._lock:
            self.spans.extend(spans)
            self.exports += 1
            self.encodings.append(encoding)
            self.headers.append(dict(request.headers))
        body = ExportTraceServiceResponse().SerializeToString()
        return Response(body, media_type="application/x-protobuf")

    def wait_for(self, count: int, kind: int | None = None, timeout: float = 10) -> list[Span]:
        """The first `count` spans (of `kind`, if given), once that many have arrived."""

        def matching() -> list[Span]:
            with self._lock:
                return [s for s in self.spans if kind is None or s.kind == kind]

        assert wait_until(lambda: len(matching()) >= count, timeout), matching()
        return matching()


SERVER, CLIENT = 2, 3


def _span(span: Any, service: str) -> Span:
    return Span(
        name=span.name,
        kind=span.kind,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes={a.key: _value(a.value) for a in span.attributes},
        status_code=span.status.code,
        status_message=span.status.message,
        service_name=service,
    )


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None
