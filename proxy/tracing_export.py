"""The export side of proxy/tracing.py: a queue of encoded spans that a daemon thread sends
in batches through the official OTLP/HTTP exporter's HTTP client, off the request path.

Why not the SDK's BatchSpanProcessor: it takes SDK spans (ReadableSpan), and building two
of them per request and passing each through its on_end (an os.getpid() syscall per span)
measured ~42k instructions (callgrind), ~12 us of CPU on the 2-core dev machine, of the
40 us budget of issue 13, only to have the exporter turn them into protobuf objects
again. Our spans are encoded once, by proxy/tracing_encoding.py, when the request ends;
this queue holds those bytes, a request's spans as one item.

It batches as BatchSpanProcessor does and reads the same variables, with the SDK's
defaults: OTEL_BSP_SCHEDULE_DELAY (ms between exports, 5000), OTEL_BSP_MAX_QUEUE_SIZE
(spans, 2048; a request's spans that do not fit are dropped, with one warning per burst),
OTEL_BSP_MAX_EXPORT_BATCH_SIZE (spans, 512: a full batch wakes the thread early).
OTEL_BSP_EXPORT_TIMEOUT is read for validation only; like the SDK (1.45), nothing uses it:
an export's own limit is the exporter's OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT. The proxy's
workers are spawned, never forked, so there is no after-fork restart of the thread.

Everything about the transport is the official exporter's (OTLPSpanExporter, built from
the OTEL_EXPORTER_OTLP_* variables): endpoint, headers, compression, TLS, timeout, retries.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.exporter.http.transport._base import BaseHTTPTransport
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
)
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExportResult

from proxy.config import ConfigError
from proxy.tracing_encoding import Batch

log = logging.getLogger("proxy.tracing")

# The SDK's defaults (opentelemetry.sdk.trace.export, the OpenTelemetry specification's).
_DEFAULTS = {
    OTEL_BSP_SCHEDULE_DELAY: 5000,
    OTEL_BSP_MAX_QUEUE_SIZE: 2048,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 512,
    OTEL_BSP_EXPORT_TIMEOUT: 30000,
}
_JOIN_SECONDS = 30.0  # the SDK's shutdown default: how long to wait for the last export


class EncodedSpanExporter(OTLPSpanExporter):
    """The official exporter, sending an ExportTraceServiceRequest already encoded: what its
    export() does after encode_spans (its metrics, its size limit, its HTTP client with
    retries). Built on its attributes (checked against 1.45.2; pyproject.toml bounds it).

    To a plain http:// collector (a sidecar, a node agent) it sends through the exporter
    package's own urllib3 transport instead of its default, requests: a batch of 512
    spans cost ~2 ms of CPU through requests (most of it scanning the environment for
    proxies on every send, in the export thread, on the proxy's core), a fraction of that
    through urllib3 (bench/README.md). Where requests does something urllib3 does not,
    requests stays: https (requests verifies with certifi's CA bundle, or
    REQUESTS_CA_BUNDLE), proxies from the environment (HTTP_PROXY, NO_PROXY...), and a
    credential provider's session (OTEL_PYTHON_EXPORTER_OTLP_HTTP_*CREDENTIAL_PROVIDER)."""

    def __init__(self, **settings: Any) -> None:
        # Endpoint, headers, timeout, compression: OTEL_EXPORTER_OTLP_*, as the SDK reads
        # them (tests pass some as arguments).
        super().__init__(**settings)
        if _plain_http(self._endpoint) and not _requests_only_settings():
            self._client._transport.close()
            self._client._transport = _urllib3_transport()

    def export_encoded(self, payload: bytes, count: int) -> SpanExportResult:
        if self._shutdown:
            log.warning("span exporter already shut down, dropping %d spans", count)
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(count) as result:
            limit = self._max_request_size
            if 0 < limit < len(payload):
                log.warning("dropping %d spans: %d bytes is over %d", count, len(payload), limit)
                result.error = ValueError("span batch over max_request_size")
                return SpanExportResult.FAILURE
            sent = self._client.export(payload)
            if not sent.success:
                result.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


class SpanQueue(SpanProcessor):
    """Encoded spans waiting for export. A span processor only so that the TracerProvider's
    shutdown (Tracing.aclose, and the SDK's at exit) flushes it; it is given no SDK spans."""

    def __init__(self, exporter: EncodedSpanExporter, batch: Batch) -> None:
        settings = {name: _setting(name, default) for name, default in _DEFAULTS.items()}
        self._delay = settings[OTEL_BSP_SCHEDULE_DELAY] / 1000
        self._max_queue = settings[OTEL_BSP_MAX_QUEUE_SIZE]
        self._max_batch = settings[OTEL_BSP_MAX_EXPORT_BATCH_SIZE]
        if self._max_batch > self._max_queue:
            raise ConfigError(
                f"{OTEL_BSP_MAX_EXPORT_BATCH_SIZE} ({self._max_batch}) must not be more "
                f"than {OTEL_BSP_MAX_QUEUE_SIZE} ({self._max_queue})"
            )
        self._exporter = exporter
        self._batch = batch
        # Each request's spans, encoded one after the other, and how many.
        self._queue: collections.deque[tuple[bytes, int]] = collections.deque()
        # Spans ever queued (written on the event loop only) and ever taken off (by the
        # export thread only): their difference is what is queued, with no lock.
        self._added = self._taken = 0
        self._wake = threading.Event()
        self._export_lock = threading.Lock()  # the worker's exports and a force_flush
        self._stopped = False
        self._full = False  # dropping, and said so once
        self.dropped = 0
        self._worker = threading.Thread(target=self._run, name="llm-proxy-spans", daemon=True)
        self._worker.start()

    def put(self, spans: bytes, count: int) -> None:
        """A finished request's `count` spans, encoded one after the other (on the event
        loop; never blocks)."""
        queued = self._added - self._taken
        if self._stopped or queued + count > self._max_queue:
            self.dropped += count
            if not self._full:
                self._full = True
                log.warning("span queue full (%s spans): dropping spans", self._max_queue)
            return
        if self._full:
            self._full = False
        self._queue.append((spans, count))
        self._added += count
        if queued + count >= self._max_batch and not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            woken = self._wake.wait(self._delay)
            self._wake.clear()
            if self._stopped:
                break
            # Woken by a full batch: full batches only; the delay over: what is there.
            self._export(full_batches_only=woken)
        self._export(full_batches_only=False, everything=True)

    def _export(self, full_batches_only: bool, everything: bool = False) -> None:
        queue, size = self._queue, self._max_batch
        with self._export_lock:
            token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                sent_one = False
                while queue:
                    queued = self._added - self._taken
                    if queued < size and (full_batches_only or (sent_one and not everything)):
                        break
                    spans, count = self._batch_of(size)
                    try:
                        self._exporter.export_encoded(self._batch.request(spans), count)
                    except Exception:  # the thread must live on: log and go on
                        log.exception("span export failed")
                    sent_one = True
            finally:
                detach(token)

    def _batch_of(self, size: int) -> tuple[list[bytes], int]:
        """Requests' spans from the front of the queue, at most `size` spans (a request's
        spans are not split: one with more than `size` goes alone)."""
        queue, count = self._queue, 0
        spans: list[bytes] = []
        while queue and (not spans or count + queue[0][1] <= size):
            blob, n = queue.popleft()  # the event loop only appends: no lock needed
            spans.append(blob)
            count += n
        self._taken += count
        return spans, count

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        if self._stopped:
            return False
        self._export(full_batches_only=False, everything=True)
        return True

    def shutdown(self) -> None:
        """Export what is queued (the worker's last round), then close the exporter."""
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        self._worker.join(_JOIN_SECONDS)
        self._exporter.shutdown()  # type: ignore[no-untyped-call]  # the SDK's, untyped


def _urllib3_transport() -> BaseHTTPTransport:
    """The exporter-http-transport package's urllib3 transport, by its registered name
    (its documented extension point; pyproject.toml installs its urllib3 extra)."""
    [entry] = entry_points(group="opentelemetry_http_transport", name="urllib3")
    transport: BaseHTTPTransport = entry.load()(verify=True, cert=None)
    return transport


def _plain_http(endpoint: str) -> bool:
    return endpoint[:7].lower() == "http://"


def _requests_only_settings() -> bool:
    """Environment settings only the requests transport follows."""
    return any(
        value and (name.lower().endswith("_proxy") or name in _REQUESTS_SETTINGS)
        for name, value in os.environ.items()
    )


_REQUESTS_SETTINGS = frozenset(
    {
        "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
        "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
    }
)


def _setting(name: str, default: int) -> int:
    """A positive integer OTEL_BSP_* value; not a number: the default, as the SDK does."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        log.warning("%s=%r is not an integer: using %d", name, raw, default)
        return default
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number, not {value}")
    return value
