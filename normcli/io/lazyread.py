"""A plain CSV file's columns read by a polars streaming query, for `fit` (the reading half of
io/lazycsv.py, whose checks it shares).

pyarrow's streaming reader parses on one core at a time here, and `fit` waited for it most
of its run. polars' streaming engine parses on every core and hands each batch to a function
that queues it; the caller takes the batches in row order (they may finish out of it) and does
its NumPy work on them while polars parses the next ones.

What the chunked path would hand to pyarrow is found as in io/lazycsv.py: a scan of the file's
bytes beside the query (a carriage return, '+' with integer columns, the separators), and a row
with too few fields, which polars fills with nulls, ruled out by counting separators when the
last column had a null (the separators inside quoted text are counted in the text columns,
which are parsed for that). The caller learns it from LazyFallback, raised after the last
batch at the latest, and reads the file again by the general path; so the batches it was given
count only once `batches` has returned.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

from normcli.io.fastcsv import FrameBatch
from normcli.io.lazycsv import (
    _JOIN_POLL,
    PlainCsvQuery,
    _environ,
    _Fallback,
    _State,
    _Stop,
    _unused_name,
    plain_schema,
    scan_plain,
)
from normcli.io.readers import CsvReader

__all__ = ["LazyCsvReader", "LazyFallback", "lazy_reader"]

_READ_AHEAD = 4  # batches parsed ahead of the caller (beside those finished out of order)
# Bytes polars parses per chunk: fit's per-column work costs a Python call per batch, and 1 MB
# chunks made fit of 1M x 21 take 1.35 s against 1.0 s, for 200 MB against 250 MB of peak RSS
POLARS_CSV_CHUNK_SIZE = str(4 << 20)


class LazyFallback(Exception):
    """The file must be read by the general path: polars would read it otherwise."""


class LazyCsvReader(PlainCsvQuery):
    """Columns of one plain CSV file, parsed by polars on all cores, batch by batch."""

    def __init__(self, reader: CsvReader, start: int, schema: dict[str, Any]) -> None:
        super().__init__(reader, start, schema)
        self.bytes_read = start

    def batches(self, columns: list[str]) -> Iterator[FrameBatch]:
        """The rows of `columns` in row order; LazyFallback where the general path must read
        the file instead (then forget the batches given so far)."""
        import polars as pl

        names = list(self.schema)
        row = _unused_name("__normcli_row", names)
        last = names[-1]
        text = [n for n, t in self.schema.items() if t == pl.String]
        parsed = [n for n in names if n in {*columns, last, *text}]
        # a column parsed only for the checks is read as text, so that no value of it can fail
        read = {n: (t if n in columns else pl.String) for n, t in self.schema.items()}
        state = _State()
        ready: queue.Queue[tuple[int, Any] | None] = queue.Queue(maxsize=_READ_AHEAD)
        delimiter = self._reader._parse.delimiter

        def each(df: pl.DataFrame) -> pl.DataFrame:
            try:
                if df.height:
                    frame = df.drop(row)
                    short = frame.get_column(last).null_count() > 0
                    quoted = _separators_in(frame.select(text), delimiter) if text else 0
                    with state.lock:
                        state.rows += frame.height
                        state.short_rows |= short
                        state.quoted += quoted
                    _put(ready, (int(df.get_column(row)[0]), frame.select(columns)), state)
                return df.head(0)
            except BaseException as exc:
                state.fail(exc)
                raise _Stop from None

        lf = scan_plain(self._reader._path, read, delimiter, row).select(row, *parsed)
        lf = lf.map_batches(each, streamable=True, schema={row: pl.UInt32, **{n: read[n] for n in parsed}})

        def query() -> None:
            try:
                lf.collect(engine="streaming")
            except BaseException as exc:
                state.fail(exc)
            finally:
                _put(ready, None, state, always=True)

        waiting: dict[int, Any] = {}  # batches that finished before the rows ahead of them
        done, finished = 0, False
        with _environ(POLARS_CSV_CHUNK_SIZE=POLARS_CSV_CHUNK_SIZE):
            threads = [threading.Thread(target=query, name="normcli-polars", daemon=True)]
            self._start_scan(state, threads)
            try:
                while (item := _get(ready)) is not None:
                    waiting[item[0]] = item[1]
                    while done in waiting:
                        frame = waiting.pop(done)
                        done += frame.height
                        self.bytes_read = self.bytes_done(done)
                        yield FrameBatch(frame, self.label)
                finished = True
            finally:  # on an interrupt, or when the caller stops early: stop the query first
                if not finished:
                    state.stop.set()
                for t in threads:
                    while t.is_alive():
                        t.join(_JOIN_POLL)
        if waiting and state.error is None:
            state.fail(_Fallback("a batch was never handed over"))
        expected = (len(names) - 1) * state.rows + state.quoted  # separators between fields, and inside text
        if self._verdict(state, lambda: expected, "general") is not None:
            raise LazyFallback(self.outcome)


def lazy_reader(reader: Any, columns: list[str]) -> LazyCsvReader | None:
    """A LazyCsvReader for `columns` of `reader` (numbers, or text: the types `reader` reads
    them as; float64 where they were empty in the sniffed head), where the chunked fast path
    would read the whole file with polars; else None."""
    import pyarrow as pa

    if type(reader) is not CsvReader:
        return None
    plain = plain_schema(reader, {n: pa.float64() for n in columns if n in reader.empty_names})
    if plain is None:
        return None
    return LazyCsvReader(reader, *plain)


def _separators_in(frame: Any, delimiter: str) -> int:
    """Separators inside the text values of `frame` (inside quotes, so not between fields)."""
    import polars as pl

    counts = frame.select(pl.col(n).str.count_matches(delimiter, literal=True).sum() for n in frame.columns)
    return int(sum(v or 0 for v in counts.row(0)))


def _put(q: queue.Queue, item: Any, state: _State, always: bool = False) -> None:
    """Put `item` on `q`, waiting for room unless the query is stopped (`always`: even then,
    making room: the reader has gone)."""
    while True:
        try:
            q.put(item, timeout=_JOIN_POLL)
            return
        except queue.Full:
            if state.stop.is_set():
                if not always:
                    raise _Stop from None
                with contextlib.suppress(queue.Empty):
                    q.get_nowait()


def _get(q: queue.Queue) -> Any:
    """The next item of `q`, waiting in short steps (so that the main thread takes signals)."""
    while True:
        try:
            return q.get(timeout=_JOIN_POLL)
        except queue.Empty:
            continue
