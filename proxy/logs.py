"""Structured logging: one JSON object per line (or plain text for a terminal), with the
request id on every line of a request, and secrets redacted from every line.

Request and response bodies are never logged. As a second line of defence, every
formatted line is scrubbed of the configured secrets (client keys, provider keys, the
admin key) and of `key=...` URL parameters (Gemini-style keys in URLs).
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import re
import sys
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import IO, Any, Literal

import orjson

from proxy.redaction import SECRETS

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
LogFormat = Literal["json", "text"]

_URL_KEY = re.compile(r"([?&](?:key|api_key|apikey)=)[^&\s\"']+", re.IGNORECASE)


class _Redactor:
    """The registered secrets (proxy/redaction.py, shared with client-visible errors), then
    URL key parameters."""

    def __call__(self, text: str) -> str:
        text = SECRETS.scrub(text)
        if "ey=" in text or "EY=" in text:  # cheap pre-check for key= / api_key= / KEY=
            text = _URL_KEY.sub(r"\1***", text)
        return text


REDACT = _Redactor()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            data["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if fields:
            data.update(fields)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        # orjson escapes control characters (CR, LF, ESC): crafted values cannot forge lines.
        return REDACT(orjson.dumps(data, default=str).decode())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request_id = REQUEST_ID.get()
        parts = [
            _timestamp(record.created),
            record.levelname,
            record.name,
            f"[{request_id}]" if request_id else "",
            record.getMessage(),
        ]
        fields = getattr(record, "fields", None)
        if fields:
            parts.extend(f"{k}={_text_value(v)}" for k, v in fields.items())
        line = " ".join(p for p in parts if p)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return REDACT(line.encode("unicode_escape").decode("ascii") if "\x1b" in line else line)


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if not value.isprintable() or " " in value else value
    return orjson.dumps(value, default=str).decode()


def _timestamp(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


class BufferedStreamHandler(logging.Handler):
    """Writes lines in batches: one write per `flush_interval` (or per `batch` lines) instead
    of a write and a flush per line, which at thousands of requests per second is most of
    what logging costs. A daemon thread flushes what waits; errors and above go out at once.

    Why not the stdlib's QueueHandler + QueueListener: the listener's thread takes records
    one by one and hands each to a handler that writes (and flushes) it alone, so the
    serving thread would pay a GIL hand-over and a write per line, and QueueHandler.prepare
    copies every record: the per-line costs this handler exists to avoid.
    Here a line costs a format and a list append under a lock.
    """

    def __init__(self, stream: IO[str], flush_interval: float = 0.2, batch: int = 256) -> None:
        super().__init__()
        self._stream = stream
        self._pending: list[str] = []
        self._batch = batch
        self._interval = flush_interval
        # One writer at a time, from taking a batch to writing it: the flusher thread and an
        # urgent emit could otherwise each take a batch and write them in either order.
        # emit() takes only self.lock (the list), so a slow write delays no ordinary line.
        self._writing = threading.Lock()
        self._stop = threading.Event()  # also the flusher's interruptible, GIL-free sleep
        self._flusher = threading.Thread(target=self._flush_forever, daemon=True)
        self._flusher.start()
        atexit.register(self.flush)
        # uvicorn's worker processes end through multiprocessing, which skips atexit but
        # runs its own finalizers.
        multiprocessing.util.Finalize(self, self.flush, exitpriority=10)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            urgent = record.levelno >= logging.ERROR or len(self._pending) >= self._batch
        if urgent:
            self.flush()

    def flush(self) -> None:
        with self._writing:
            with self.lock:  # type: ignore[union-attr]
                lines, self._pending = self._pending, []
            if lines:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()

    def close(self) -> None:
        self._stop.set()  # ends the flusher thread
        self.flush()
        super().close()

    def _flush_forever(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()


def setup_logging(level: str = "info", fmt: LogFormat = "json") -> None:
    # None of these record fields is ever printed; skip computing them for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BufferedStreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for previous in root.handlers:  # set up again in a uvicorn worker: one flusher only
        previous.close()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access line replaces uvicorn's. With no handler in reach, uvicorn does not even
    # format the client address and path of every request for a line nobody writes.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise


def flush_logs() -> None:
    """Write out batched lines now: uvicorn ends a process by re-raising SIGTERM after its
    shutdown, which skips atexit, so shutdown paths flush explicitly."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def register_secrets(secrets: Iterable[str]) -> None:
    """Secrets to scrub from every log line and client-visible error (all of them, on every
    config load)."""
    SECRETS.register(secrets)


def log_fields(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """One structured line. Built directly, without Logger.log's caller lookup (a stack
    walk per record that nothing here prints)."""
    if logger.isEnabledFor(level):
        record = logger.makeRecord(logger.name, level, "", 0, message, (), None)
        record.fields = fields
        logger.handle(record)
