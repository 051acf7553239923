"""The batched log handler: batches reach the stream in the order their lines were logged."""

from __future__ import annotations

import logging
import threading

from proxy.logs import BufferedStreamHandler


class SlowFirstWrite:
    """A stream whose first write waits until released, to hold a flush mid-write."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.first_entered = threading.Event()
        self.release = threading.Event()
        self.second_written = threading.Event()

    def write(self, text: str) -> None:
        if not self.first_entered.is_set():
            self.first_entered.set()
            assert self.release.wait(10)
        else:
            self.second_written.set()
        self.writes.append(text)

    def flush(self) -> None:
        return None


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("t", level, "", 0, message, (), None)


def test_two_flushes_write_their_batches_in_order() -> None:
    stream = SlowFirstWrite()
    handler = BufferedStreamHandler(stream, flush_interval=3600, batch=1000)  # type: ignore[arg-type]
    try:
        handler.emit(_record("first"))
        first = threading.Thread(target=handler.flush)  # the flusher thread's flush
        first.start()
        assert stream.first_entered.wait(10)  # it holds batch 1, mid-write
        handler.emit(_record("second"))  # an ordinary line does not wait for the write
        urgent = threading.Thread(target=handler.emit, args=(_record("third", logging.ERROR),))
        urgent.start()  # an error flushes at once
        # Before the fix the urgent batch overtook the first; now it waits for it. Either
        # way, give it the chance (a bounded wait, not a synchronisation sleep).
        stream.second_written.wait(0.3)
        stream.release.set()
        first.join(10)
        urgent.join(10)
        assert stream.writes == ["first\n", "second\nthird\n"]
    finally:
        stream.release.set()
        handler.close()
