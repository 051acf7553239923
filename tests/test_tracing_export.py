"""proxy/tracing_export.py: the span queue batches as the SDK's BatchSpanProcessor does
(OTEL_BSP_* knobs), drops what does not fit, flushes at shutdown; and the exporter sends
an encoded batch through the official OTLP/HTTP client to a real receiver."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from proxy import tracing_encoding as encoding
from proxy.config import ConfigError
from proxy.tracing_export import EncodedSpanExporter, SpanQueue
from tests.otlp_receiver import SERVER, OtlpReceiver
from tests.test_tracing_encoding import encoded_span

BATCH = encoding.Batch(Resource({"service.name": "queue-test"}), InstrumentationScope("t"))


def encoded(span_id: int) -> bytes:
    status = encoding.UNSET_STATUS
    return encoded_span(7, span_id, b"", f"s{span_id}", encoding.SERVER, 1, 2, b"", status, False)


class Recorder:
    """Stands in for EncodedSpanExporter: keeps each batch's span ids."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.exported = threading.Event()
        self.closed = False

    def export_encoded(self, payload: bytes, count: int) -> SpanExportResult:
        [resource_spans] = ExportTraceServiceRequest.FromString(payload).resource_spans
        spans = resource_spans.scope_spans[0].spans
        assert len(spans) == count
        self.batches.append([int.from_bytes(s.span_id, "big") for s in spans])
        self.exported.set()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.closed = True


def queue(recorder: Recorder) -> SpanQueue:
    return SpanQueue(recorder, BATCH)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_timed_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")  # only full batches, flushes


def test_batches_of_at_most_the_batch_size_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "3")
    recorder = Recorder()
    spans = queue(recorder)
    spans.put(encoded(1) + encoded(2), 2)
    spans.put(encoded(3) + encoded(4), 2)
    spans.shutdown()  # exports what is left; a full batch may have gone already
    assert [i for b in recorder.batches for i in b] == [1, 2, 3, 4]
    assert all(len(b) <= 3 for b in recorder.batches)
    assert recorder.closed


def test_a_full_batch_wakes_the_export_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    recorder = Recorder()
    spans = queue(recorder)
    spans.put(encoded(1), 1)
    assert not recorder.exported.is_set()  # one span: waits for the delay (10 minutes)
    spans.put(encoded(2), 1)
    assert recorder.exported.wait(10)
    assert recorder.batches == [[1, 2]]
    spans.shutdown()


def test_force_flush_exports_everything_now() -> None:
    recorder = Recorder()
    spans = queue(recorder)
    spans.put(encoded(1) + encoded(2), 2)
    assert spans.force_flush()
    assert recorder.batches == [[1, 2]]
    spans.shutdown()
    assert not spans.force_flush()


def test_a_request_that_does_not_fit_is_dropped_whole_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "3")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "3")
    recorder = Recorder()
    with caplog.at_level(logging.WARNING, logger="proxy.tracing"):
        spans = queue(recorder)
        spans.put(encoded(1) + encoded(2), 2)
        spans.put(encoded(3) + encoded(4), 2)  # 4 > 3: dropped
        spans.put(encoded(5) + encoded(6), 2)
        spans.put(encoded(7), 1)  # fits
        spans.shutdown()
    assert [i for b in recorder.batches for i in b] == [1, 2, 7]
    assert spans.dropped == 4
    assert [r.getMessage() for r in caplog.records].count(
        "span queue full (3 spans): dropping spans"
    ) == 1


def test_spans_after_shutdown_are_dropped() -> None:
    recorder = Recorder()
    spans = queue(recorder)
    spans.shutdown()
    spans.put(encoded(1), 1)
    assert recorder.batches == [] and spans.dropped == 1
    spans.shutdown()  # twice (aclose, then the SDK's at exit): no error


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "-1"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"),  # more than the queue (2048)
    ],
)
def test_settings_the_sdk_refuses_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        queue(Recorder())


def test_a_setting_that_is_no_number_is_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
    with caplog.at_level(logging.WARNING, logger="proxy.tracing"):
        spans = queue(Recorder())
    assert "OTEL_BSP_MAX_QUEUE_SIZE='lots' is not an integer: using 2048" in caplog.text
    spans.shutdown()


def exporting(
    serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch, **settings: str
) -> tuple[OtlpReceiver, EncodedSpanExporter]:
    """A real receiver on loopback, and the exporter the environment builds for it with
    these OTEL_* settings."""
    receiver = OtlpReceiver()
    url = serve(receiver.app())
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{url}/v1/traces")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return receiver, EncodedSpanExporter()


def test_the_official_exporter_sends_an_encoded_batch(
    serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, exporter = exporting(serve, monkeypatch, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="gzip")
    payload = BATCH.request([encoded(1), encoded(2)])
    assert exporter.export_encoded(payload, 2) is SpanExportResult.SUCCESS
    spans = receiver.wait_for(2, SERVER)
    assert [s.name for s in spans] == ["s1", "s2"]
    assert {s.service_name for s in spans} == {"queue-test"}
    assert receiver.encodings == ["gzip"]
    exporter.shutdown()
    assert exporter.export_encoded(payload, 2) is SpanExportResult.FAILURE


def test_a_batch_over_the_size_limit_is_not_sent(serve: Callable[..., str]) -> None:
    receiver = OtlpReceiver()
    url = serve(receiver.app())
    exporter = EncodedSpanExporter(endpoint=f"{url}/v1/traces", max_request_size=10)
    payload = BATCH.request([encoded(1)])
    assert exporter.export_encoded(payload, 1) is SpanExportResult.FAILURE
    assert receiver.exports == 0


@pytest.mark.parametrize(
    ("settings", "transport"),
    [
        ({}, "Urllib3HTTPTransport"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "HTTP://collector:4318/v1/traces"}, "Urllib3"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector/v1/traces"}, "Requests"),
        ({"HTTPS_PROXY": "http://egress:3128"}, "RequestsHTTPTransport"),
        ({"no_proxy": "localhost"}, "RequestsHTTPTransport"),
        ({"OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER": "x"}, "Requests"),
    ],
)
def test_plain_http_goes_through_urllib3_unless_requests_is_needed(
    settings: dict[str, str], transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    # The credential provider is loaded by the SDK itself: stand it in with a session.
    monkeypatch.setattr(
        "opentelemetry.exporter.otlp.proto.http.trace_exporter._load_session_from_envvar",
        lambda _: None,
    )
    exporter = EncodedSpanExporter()
    assert type(exporter._client._transport).__name__.startswith(transport)
    exporter.shutdown()


def test_urllib3_sends_the_configured_headers_and_compression(
    serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, exporter = exporting(
        serve,
        monkeypatch,
        OTEL_EXPORTER_OTLP_HEADERS="x-tenant=blue,authorization=Bearer%20t",
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="deflate",
    )
    assert type(exporter._client._transport).__name__ == "Urllib3HTTPTransport"
    assert exporter.export_encoded(BATCH.request([encoded(3)]), 1) is SpanExportResult.SUCCESS
    [span] = receiver.wait_for(1, SERVER)
    assert span.name == "s3"
    assert receiver.encodings == ["deflate"]
    assert receiver.headers[-1]["x-tenant"] == "blue"
    assert receiver.headers[-1]["authorization"] == "Bearer t"
    exporter.shutdown()


def test_a_requests_spans_are_never_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch takes whole requests: at most the batch size, or one request alone when it
    has more spans than that."""
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "3")
    recorder = Recorder()
    spans = queue(recorder)
    spans.put(encoded(1) + encoded(2), 2)
    spans.put(encoded(3) + encoded(4), 2)
    spans.put(encoded(5) + encoded(6) + encoded(7) + encoded(8), 4)
    spans.put(encoded(9), 1)
    assert spans.force_flush()
    assert recorder.batches == [[1, 2], [3, 4], [5, 6, 7, 8], [9]]
    spans.shutdown()
