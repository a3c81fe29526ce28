"""Plain CSV -> CSV file in one polars streaming query, with normcli's own work on each batch.

The chunked fast path (io/fastcsv.py) parses, hands over and writes one chunk after another,
so the parse, the NumPy work and the formatting take turns. Here polars' streaming engine
reads, parses and formats on every core at once, and calls the pipeline's batch step (values,
counters, statistics, rounding: the code every other path runs) on each batch in between
(`LazyFrame.map_batches`). The bytes written are the chunked path's; the statistics are merged
in row order by the caller, so they do not depend on which batch polars finished first.

It is taken where the chunked path would read the whole file with polars (the same checks of
the file and its header, `_plain_start`; the same types and parse options), for 2 to
MAX_COLUMNS columns, into a CSV file of the writer's own. What would make the
chunked path hand a chunk to pyarrow is looked for while the query runs, by a scan of the
file's bytes on another thread: a carriage return; '+' when an integer column is read; a row
with too few fields (polars fills it with nulls where pyarrow refuses it), ruled out by
counting the separators whenever the last column had a null (a blank line is such a short row
to polars, so a single column is not taken here). A quote never closed, which pyarrow reads as
one value running to the end, polars refuses (tests/test_lazycsv.py). Anything polars refuses, and any
error of the batch step, stops the query; the caller then starts over on the chunked path into
the same output, emptied, so odd input gets that path's values and error messages. An
interrupt stops the query and is raised as it is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from normcli.io.fastcsv import FrameBatch, _plain_start, _polars_type
from normcli.io.readers import CsvReader
from normcli.io.writers import CsvWriter, header_line

__all__ = ["LazyCsv", "lazy_csv"]

# Bytes polars parses per chunk in the transform's query. Its default, with several chunks
# prefetched, put a 246 MB file's transform near 400 MB of peak RSS, growing with the file, and
# 4 MB reached 300-326 MB on the long shape (benchmarks/run.py --shapes). Smaller chunks are
# more batches: with the report, whose statistics cost a few NumPy calls per column and batch,
# 1 MB took 0.3-0.5 s more CPU on 1M x 21 than 2 MB (255-280 MB); without it, 1 MB is as fast
# as 4 MB, in 220-230 MB. Reading for fit takes bigger ones (io/lazyread.py).
CHUNK_BYTES = {"quiet": 1 << 20, "report": 2 << 20}
# polars hands over batches of a few MB whatever the width, so each column's NumPy work costs a
# Python call per few thousand rows of a wide table: 300 columns took 1.5x the chunked path's
# time (whose chunks are twice as big, and polars' formatting the same), 21 columns 0.75x
MAX_COLUMNS = 64
_COUNT_BYTES = 8 << 20  # bytes counted at a time (numpy's temporaries)
_JOIN_POLL = 0.05  # seconds: how often the waiting main thread can take a signal

Step = Callable[[FrameBatch, int], FrameBatch]


class _Stop(Exception):
    """Raised in the batch function to end the query (polars then raises its own error)."""


class _Fallback(Exception):
    """The file holds what the chunked path reads otherwise than polars."""


class PlainCsvQuery:
    """A plain CSV file read by a polars streaming query, and what every such query shares:
    progress, the scan of the file's bytes beside it, and the verdict on what it read."""

    def __init__(self, reader: CsvReader, start: int, schema: dict[str, Any]) -> None:
        self._reader = reader
        self._start = start  # the first byte after the header line
        self.schema = schema
        self.label = reader.label
        self.total_bytes = reader.total_bytes
        head = reader._head[start:]
        self._row_bytes = len(head) / max(1, head.count(b"\n"))  # for progress: bytes of a row
        self.outcome = ""  # "lazy", or why the file went back to another path (for tests)

    def bytes_done(self, rows: int) -> int:
        """About how many bytes `rows` rows take (polars does not say how far it has read)."""
        return min(self.total_bytes or 0, self._start + int(rows * self._row_bytes))

    def _start_scan(self, state: _State, threads: list[threading.Thread]) -> _FileScan:
        """Start `threads`, and the scan of the file's bytes beside them (added to them)."""
        import polars as pl

        ints = any(t == pl.Int64 for t in self.schema.values())
        scan = _FileScan(self._reader._path, self._reader._parse.delimiter, self._start, ints, state)
        threads.append(threading.Thread(target=scan, name="normcli-scan", daemon=True))
        for t in threads:
            t.start()
        return scan

    def _verdict(self, state: _State, separators: Callable[[], int | None], path: str) -> BaseException | None:
        """None when the query read the file as the chunked path would, else why not (and
        `outcome` says it, naming the other `path`). An interrupt in a batch is raised.
        `separators()`, called only when the last column had a null, is how many separators
        the file must hold after its header if every row had all its fields."""
        error = state.error
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt, SystemExit from a batch
        if error is None and state.short_rows:
            expected = separators()
            if expected is None or state.separators != expected:
                error = _Fallback("perhaps a row with too few fields")
        if error is None and state.rows == 0:
            error = _Fallback("no rows")
        self.outcome = (
            "lazy" if error is None else f"{path}: {type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
        )
        return error


class LazyCsv(PlainCsvQuery):
    """One plain CSV file, to be transformed into one CSV file by a polars streaming query."""

    def __init__(self, reader: CsvReader, writer: CsvWriter, path: str, start: int, schema: dict[str, Any]) -> None:
        super().__init__(reader, start, schema)
        self._writer = writer
        self._out = path
        self._written = writer.delimiter  # the output's separator (TSV from CSV, say)

    def run(
        self,
        step: Step,
        out_schema: dict[str, Any],
        progress: Callable[[int], None] | None = None,
        with_stats: bool = True,
    ) -> bool:
        """Transform the file: `step(batch, first_row)` for each batch, called from polars'
        threads, one at a time, perhaps out of row order (`with_stats`: the step gathers the
        report's statistics). True when the output is written; False when the caller must
        start over on the chunked path (the output is empty again)."""
        import polars as pl

        names = list(self.schema)
        row = _unused_name("__normcli_row", names)
        delimiter = self._reader._parse.delimiter
        last = names[-1]
        state = _State()

        def each(df: pl.DataFrame) -> pl.DataFrame:
            if state.stop.is_set():
                raise _Stop
            try:
                first = int(df.get_column(row)[0]) if df.height else 0
                frame = df.drop(row)
                if not frame.height:
                    return frame.cast(out_schema)  # type: ignore[arg-type]
                short = frame.get_column(last).null_count() > 0
                out = step(FrameBatch(frame, self.label), first).frame
                with state.lock:
                    state.rows += frame.height
                    state.short_rows |= short
                    if progress is not None:
                        progress(state.rows)
                return out
            except BaseException as exc:
                state.fail(exc)
                raise _Stop from None

        lf = scan_plain(self._reader._path, self.schema, delimiter, row)
        lf = lf.map_batches(each, streamable=True, schema=out_schema)
        # empty text is written as nothing, as CsvWriter.prepare_frame does (here on polars' threads)
        text = [n for n, t in out_schema.items() if t == pl.String]
        lf = lf.with_columns(pl.when(pl.col(n) != "").then(pl.col(n)).alias(n) for n in text)

        def query() -> None:
            try:
                lf.sink_csv(
                    polars_path(self._out),
                    include_header=True,
                    separator=self._written,
                    null_value="",
                    check_extension=False,
                )
            except BaseException as exc:
                state.fail(exc)

        with _environ(POLARS_CSV_CHUNK_SIZE=str(CHUNK_BYTES["report" if with_stats else "quiet"])):
            threads = [threading.Thread(target=query, name="normcli-polars", daemon=True)]
            self._start_scan(state, threads)
            try:
                for t in threads:
                    while t.is_alive():
                        t.join(_JOIN_POLL)
            except BaseException:  # an interrupt: stop the query, wait for it, and raise it
                state.stop.set()
                for t in threads:
                    t.join()
                raise
        if self._verdict(state, lambda: self._separators_written(state), "chunked") is not None:
            self._writer.restart()
            return False
        return True

    def _separators_written(self, state: _State) -> int | None:
        """The separators the output has after its header: (fields - 1) per row, and those
        inside text values, which are the input's. So a row with too few fields in the input
        shows as fewer separators there than here. None when that cannot be told cheaply."""
        if not state.quotes:  # no text value holds a separator
            return (len(self.schema) - 1) * state.rows
        if self._written != self._reader._parse.delimiter:
            return None  # the text values hold the input's separator, not the output's
        start, byte = len(header_line(list(self.schema), self._written)), ord(self._written)
        return sum(_count(buf, n, byte) for buf, n in _chunks(self._out, start))


class _State:
    """What the batches found, shared by polars' threads and the file scan."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.rows = 0
        self.short_rows = False  # the last column had a null: perhaps a row with too few fields
        self.quoted = 0  # separators inside text values (io/lazyread.py counts them)
        self.separators = 0  # in the file after its header (the scan counts them)
        self.quotes = False  # whether a quote follows the header (the scan notes it)

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None and not isinstance(exc, _Stop):
                self.error = exc
            self.stop.set()


class _FileScan:
    """The file's bytes after the header, read once beside the query (from the page cache):
    the separators in them and whether a quote is among them (into the state), and a stop
    (with _Fallback) at a byte the chunked path would read with pyarrow. A quote never closed
    needs no search here: polars refuses it."""

    def __init__(self, path: str, delimiter: str, start: int, ints: bool, state: _State) -> None:
        self._path = path
        self._delimiter = ord(delimiter)
        self._start = start
        self._ints = ints
        self._state = state

    def __call__(self) -> None:
        separators, quotes = 0, False
        try:
            for buf, n in _chunks(self._path, self._start):
                if self._state.stop.is_set():
                    return
                if buf.find(b"\r", 0, n) >= 0 or (self._ints and buf.find(b"+", 0, n) >= 0):
                    raise _Fallback("a carriage return, or '+' in a file with integer columns")
                separators += _count(buf, n, self._delimiter)
                quotes = quotes or buf.find(b'"', 0, n) >= 0
            self._state.separators, self._state.quotes = separators, quotes
        except BaseException as exc:
            self._state.fail(exc)


def _chunks(path: str, start: int) -> Iterator[tuple[bytearray, int]]:
    """The file at `path` from offset `start`, as (buffer, bytes in it), the buffer reused."""
    buf = bytearray(_COUNT_BYTES)
    with open(path, "rb", buffering=0) as fh:
        fh.seek(start)
        while n := fh.readinto(buf):
            yield buf, n


def _count(buf: bytearray, n: int, byte: int) -> int:
    """How many times `byte` occurs in buf[:n]."""
    return int(np.count_nonzero(np.frombuffer(buf, np.uint8, n) == byte))


def _unused_name(base: str, names: list[str]) -> str:
    name = base
    while name in names:
        name += "_"
    return name


class _environ:
    """Environment variables set for a block where the user has not set them, and restored
    after it (polars reads its tuning variables from the environment when a query runs).
    Blocks may overlap on several threads (a Dask worker's): the first one in sets the
    variables and the last one out restores them, so none is left behind."""

    _lock = threading.Lock()
    _inside = 0
    _saved: dict[str, str | None] = {}

    def __init__(self, **values: str) -> None:
        self._values = values

    def __enter__(self) -> None:
        cls = type(self)
        with cls._lock:
            if cls._inside == 0:
                cls._saved = {key: os.environ.get(key) for key in self._values}
                for key, value in self._values.items():
                    os.environ.setdefault(key, value)
            cls._inside += 1

    def __exit__(self, *exc: object) -> None:
        cls = type(self)
        with cls._lock:
            cls._inside -= 1
            if cls._inside == 0:
                for key, value in cls._saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


def lazy_csv(reader: Any, writer: Any) -> LazyCsv | None:
    """A LazyCsv for `reader` into `writer` where the chunked fast path would read the whole
    file with polars (in the types `reader` reads its columns as) and the output is a CSV file
    of the writer's own, else None."""
    if not isinstance(writer, CsvWriter):
        return None
    path = writer.own_path
    if path is None or not os.path.isfile(path) or not _utf8(path):
        return None  # stdout, a compressed output, a device (/dev/null): written batch by batch
    plain = plain_schema(reader)
    if plain is None:
        return None
    names = list(plain[1])
    if _polars_header(names, writer.delimiter) != header_line(names, writer.delimiter):
        return None
    return LazyCsv(reader, writer, path, *plain)


def plain_schema(reader: Any, types: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]] | None:
    """(where the rows start, the polars types of the columns) where the chunked fast path
    would read the whole file with polars, in the types `reader` reads its columns as (or
    `types`, pyarrow types by name, for some); else None. For 2 to MAX_COLUMNS columns."""
    import polars as pl
    import pyarrow as pa

    if os.environ.get("NORMCLI_FAST_CSV") == "0" or os.environ.get("NORMCLI_LAZY_CSV") == "0":
        return None
    if type(reader) is not CsvReader or not _utf8(reader._path):
        return None
    start = _plain_start(reader)
    if start is None or not reader.total_bytes or reader.total_bytes <= start:
        return None
    names = list(reader.names)
    if not 2 <= len(names) <= MAX_COLUMNS or len(set(names)) != len(names) or "" in names:
        return None
    read = {n: reader._types[n] for n in names} | (types or {})
    if not all(pa.types.is_float64(t) or pa.types.is_int64(t) or pa.types.is_string(t) for t in read.values()):
        return None
    return start, {n: _polars_type(t, pl) for n, t in read.items()}


def scan_plain(path: str, schema: dict[str, Any], delimiter: str, row: str) -> Any:
    """The rows of a plain CSV file (after its one-line header) as a polars LazyFrame, parsed as
    the chunked path's polars parser does (io/fastcsv.py), with the row numbers in column `row`."""
    import polars as pl

    return pl.scan_csv(
        polars_path(path),
        has_header=False,
        skip_lines=1,
        schema=schema,
        separator=delimiter,
        quote_char='"',
        encoding="utf8",
        try_parse_dates=False,
        truncate_ragged_lines=False,
        raise_if_empty=False,
        row_index_name=row,
        glob=False,  # a file named data[1].csv is that file, not a pattern matching data1.csv
    )


def polars_path(path: str) -> str:
    """`path` as polars must be given it to open that very file: absolute, since polars reads
    a leading ~ as the home folder (a folder named ~ here is not), and its scan takes
    patterns, which `scan_plain` turns off."""
    return os.path.abspath(path)


def _utf8(path: str) -> bool:
    """Whether polars can open `path` (a name that is not UTF-8 reaches Python as surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _polars_header(names: list[str], delimiter: str) -> bytes:
    import io

    import polars as pl

    buf = io.BytesIO()
    pl.DataFrame(schema=dict.fromkeys(names, pl.String)).write_csv(buf, separator=delimiter)
    return buf.getvalue()
