"""Overlap reading, computing and writing.

pyarrow parses and formats without holding the GIL, so a reader thread that stays a batch
or two ahead and a writer thread that drains finished batches let the NumPy work on the
main thread run at the same time as the I/O. Errors in either thread surface in the main
thread, and Ctrl-C (which only the main thread receives) stops both.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

from normcli.io.writers import Writer

__all__ = ["BackgroundWriter", "prefetch"]

T = TypeVar("T")
_DONE = object()
# Seconds between checks of a stop flag. The main thread never blocks without a timeout
# either: a signal may be delivered to any thread, and Python runs its handler (Ctrl-C)
# only when the main thread next executes, so an unbounded wait there would never end.
_POLL = 0.1
# How long an interrupted command waits for a thread stuck in a read or write (a silent
# pipe) before leaving it: the threads are daemons, so they end with the process.
_GRACE = 0.5


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item` unless asked to stop; False if stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of `items`, produced by a background thread up to `depth` ahead."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(q, item, stop):
                    return
            _put(q, _DONE, stop)
        except BaseException as exc:  # handed to the consumer, raised there
            _put(q, _Failed(exc), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="normcli-reader", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = q.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=_GRACE)


class BackgroundWriter(Generic[T]):
    """Hands batches to `writer` on a thread, in order, at most `depth` waiting. `finish`
    waits for the last write; `abort` stops early. A write error is raised in the caller."""

    def __init__(self, writer: Writer, depth: int = 2) -> None:
        self._writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="normcli-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            try:
                self._writer.write(item)
            except BaseException as exc:
                self._error = exc
                self._stop.set()
                return

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def write(self, batch: T) -> None:
        self._raise()
        while not _put(self._queue, batch, self._stop):
            self._raise()  # the writer stopped: surface why
            return

    def finish(self) -> None:
        _put(self._queue, _DONE, self._stop)
        while self._thread.is_alive():
            self._thread.join(timeout=_POLL)
        self._raise()

    def abort(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_GRACE)
