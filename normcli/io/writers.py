"""Writers: batches become CSV, TSV, Parquet or .npy, on stdout or in a file that is
replaced atomically when (and only when) the whole output has been written."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from normcli.errors import DataError
from normcli.io.arrays import append_block, write_npy_header, write_slab
from normcli.io.atomic import atomic_path, is_special, open_output, std_stream
from normcli.io.batch import ArrayBatch, TableBatch
from normcli.io.formats import STDIO, compression_suffix
from normcli.io.streams import open_compressed_sink

if TYPE_CHECKING:
    import polars

__all__ = ["Writer", "open_npy_stream", "open_writer"]


class Writer:
    """Takes batches in order; `close` finishes the output (footer, header, flush), `abort`
    gives it up: it releases the file without finishing it, since a failed command's output
    is deleted (a file) or must not look complete (a pipe).
    `fixed_types`: every batch must have the first batch's types (not so for text)."""

    fixed_types = True

    def write(self, batch: TableBatch | ArrayBatch) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class CsvWriter(Writer):
    """CSV/TSV through polars' writer, which formats floats faster than pyarrow's
    (benchmarks/run.py) and quotes only the fields that need it; the Arrow batches
    become a polars frame without copying."""

    # polars formats a frame on all cores; small frames waste that, so batches are grouped
    GROUP_BYTES = 16 << 20
    fixed_types = False

    def __init__(self, sink: BinaryIO | str, delimiter: str) -> None:
        import polars

        self._polars = polars
        self.delimiter = delimiter
        self._own = isinstance(sink, str)
        # the file's path when this writer opened it: another writer may fill it (io/lazycsv.py)
        self.own_path = sink if isinstance(sink, str) else None
        self._sink: BinaryIO = open(sink, "wb") if isinstance(sink, str) else sink  # noqa: SIM115
        self._header = True
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0

    def write(self, batch: TableBatch | ArrayBatch) -> None:
        frame = getattr(batch, "frame", None)  # a polars frame (io/fastcsv.py): written as it is
        if frame is not None:
            self._write_frame(frame)
            return
        rb = batch.to_record_batch()
        if self._header and not self._pending:
            _check_writable_as_text(rb.schema)
        self._pending.append(rb)
        self._pending_bytes += rb.nbytes
        if self._pending_bytes >= self.GROUP_BYTES:
            self._flush_pending()

    def _flush_pending(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending)
        self._pending, self._pending_bytes = [], 0
        if self._header:
            # Written here, not by polars, which renames a column named "" to "column_0".
            self._sink.write(header_line(table.schema.names, self.delimiter))
            self._sink.flush()  # polars may write to the file descriptor directly
            self._header = False
        table = _fixed_offsets_as_text(table)
        if table.num_columns == 1:
            # A lone empty field is an empty line, which CSV readers skip: write "" there.
            null = '""'
        else:
            # An empty text field is written empty, as it was read, not as "" (polars quotes
            # empty strings): it becomes a null, which the writer prints as nothing.
            null = ""
            table = _empty_text_as_null(table)
        # from_arrow gives a DataFrame for a Table (a Series only for an Array)
        renamed = table.rename_columns([str(i) for i in range(table.num_columns)])
        self._write_csv(cast("polars.DataFrame", self._polars.from_arrow(renamed)), null)

    def _write_frame(self, frame: polars.DataFrame) -> None:
        """A frame from the fast CSV reader: the same header, empty-text and null rules as
        Arrow batches get above, so both paths write the same bytes."""
        if self._header:
            self._sink.write(header_line(list(frame.columns), self.delimiter))
            self._sink.flush()
            self._header = False
        self._write_csv(self.prepare_frame(frame), '""' if frame.width == 1 else "")

    def prepare_frame(self, frame: polars.DataFrame) -> polars.DataFrame:
        """`frame` as it is formatted: empty text as null, which is written as nothing (the
        null value is '""' for a lone column, as a lone empty field would be a blank line)."""
        pl = self._polars
        if frame.width > 1:
            text = [n for n, t in frame.schema.items() if t == pl.String]
            if text:
                frame = frame.with_columns(pl.when(pl.col(n) != "").then(pl.col(n)).alias(n) for n in text)
        return frame

    def restart(self) -> None:
        """Empty the output, to write it again from the first row (io/lazycsv.py's fallback)."""
        if self._pending or not self._own:
            raise RuntimeError("only an untouched output file of its own can be restarted")
        self._sink.seek(0)
        self._sink.truncate()
        self._header = True

    def _write_csv(self, frame: polars.DataFrame, null: str) -> None:
        try:
            frame.write_csv(self._sink, include_header=False, separator=self.delimiter, null_value=null)
        except self._polars.exceptions.ComputeError as exc:  # a type CSV has no text for
            reason = (str(exc).strip().splitlines() or ["unsupported data"])[0]
            raise DataError(f"cannot write CSV: {reason}; write Parquet instead (-o FILE.parquet)") from None

    def close(self) -> None:
        self._flush_pending()
        if self._own:
            self._sink.close()
        else:
            self._sink.flush()

    def abort(self) -> None:
        self._pending, self._pending_bytes = [], 0  # never formatted
        if self._own:
            self._sink.close()


def header_line(names: list[str], delimiter: str) -> bytes:
    """A CSV header, each name quoted only where it must be, as polars quotes values: a
    delimiter, a quote or a line break (\\n or \\r) inside, or a lone empty name."""

    def quoted(name: str) -> str:
        if any(c in name for c in (delimiter, '"', "\n", "\r")) or (name == "" and len(names) == 1):
            return '"' + name.replace('"', '""') + '"'
        return name

    return (delimiter.join(quoted(n) for n in names) + "\n").encode()


def _check_writable_as_text(schema: pa.Schema) -> None:
    for f in schema:
        t = f.type
        if pa.types.is_nested(t) or _is_binary(t) or pa.types.is_duration(t):
            raise DataError(
                f"column {f.name!r} holds {t} values, which CSV cannot store; write Parquet (-o FILE.parquet)"
            )


_FIXED_OFFSET = re.compile(r"[+-]\d\d:?\d\d")


def _fixed_offsets_as_text(table: pa.Table) -> pa.Table:
    """Timestamps in a fixed-offset zone ("+05:30", as Parquet files from many tools hold)
    as text: polars knows only named zones. The text is what polars writes for a named
    zone, local time and offset (2024-01-01T15:30:00.123456000+0530), so the instant and
    the offset survive."""
    import pyarrow.compute as pc

    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz and _FIXED_OFFSET.fullmatch(f.type.tz):
            text = pc.strftime(table.column(i), "%Y-%m-%dT%H:%M:%S%z")  # %S carries the unit's fraction
            table = table.set_column(i, pa.field(f.name, pa.string()), text)
    return table


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _empty_text_as_null(table: pa.Table) -> pa.Table:
    """Empty strings as nulls, by a new validity bitmap over the same buffers (NumPy on the
    offsets: pyarrow's compute kernels would grow its memory pool on the writer thread)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            chunks = [_without_empty(chunk) for chunk in table.column(i).chunks]
            if any(new is not old for new, old in zip(chunks, table.column(i).chunks, strict=True)):
                table = table.set_column(i, f, pa.chunked_array(chunks, f.type))
    return table


def _without_empty(arr: pa.Array) -> pa.Array:
    n = len(arr)
    validity, offsets, data = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    ends = np.frombuffer(offsets, dtype=width, count=n + 1, offset=arr.offset * np.dtype(width).itemsize)
    keep = np.diff(ends) != 0
    if validity is not None:
        keep &= np.unpackbits(np.frombuffer(validity, np.uint8), count=arr.offset + n, bitorder="little")[
            arr.offset :
        ].astype(bool)
    nulls = n - int(np.count_nonzero(keep))
    if nulls == arr.null_count:
        return arr
    # the bitmap counts from the buffers' start, like the offsets: pad it by the array's offset
    bits = np.concatenate([np.zeros(arr.offset, dtype=bool), keep])
    bitmap = pa.py_buffer(np.packbits(bits, bitorder="little"))
    return pa.Array.from_buffers(arr.type, n, [bitmap, offsets, data], nulls, arr.offset)


class ParquetWriter(Writer):
    """Parquet in row groups of a bounded size: batches are gathered (not copied) until they
    hold GROUP_BYTES or GROUP_ROWS rows, then written as one row group, so the row groups do
    not shrink with the reader's batches, nor grow with the input's row groups. The footer
    is written by `close` only.

    pyarrow's writer writes the footer whenever it is dropped, closed or not, so the sink it
    is given is one we can shut first: a native file of ours, or a gate in front of a stream."""

    GROUP_BYTES = 16 << 20
    GROUP_ROWS = 128 * 1024

    def __init__(self, sink: BinaryIO | str) -> None:
        # a path is opened by its bytes: pyarrow would encode a name as UTF-8, which not every name is
        self._sink: pa.NativeFile | _Gate = pa.OSFile(os.fsencode(sink), "w") if isinstance(sink, str) else _Gate(sink)
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        self._pending_rows = 0

    def write(self, batch: TableBatch | ArrayBatch) -> None:
        rb = batch.to_record_batch()
        if self._writer is None:
            # Dictionary-encoding float columns costs write time for little gain on
            # measured data; keep it for the other columns (text, mostly).
            dictionary = [f.name for f in rb.schema if not pa.types.is_floating(f.type)]
            self._writer = pq.ParquetWriter(self._sink, rb.schema, use_dictionary=dictionary)
        self._pending.append(rb)
        self._pending_bytes += rb.nbytes
        self._pending_rows += rb.num_rows
        if self._pending_bytes >= self.GROUP_BYTES or self._pending_rows >= self.GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None or not self._pending:
            return
        table = pa.Table.from_batches(self._pending)
        self._pending, self._pending_bytes, self._pending_rows = [], 0, 0
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))

    def close(self) -> None:
        try:
            if self._writer is not None:
                self._flush()
                self._writer.close()
        finally:
            self._sink.close()

    def abort(self) -> None:
        self._sink.close()  # first: the footer pyarrow writes when its writer is dropped goes nowhere
        if self._writer is not None:
            self._writer.is_open = False  # and its close() is not called again on garbage collection


class _Gate:
    """A stream we do not own (stdout) as pyarrow's sink, with a `close` that only shuts
    the gate: writes after it fail inside pyarrow, and the stream stays open."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.closed = False

    def write(self, data: bytes) -> int:
        if self.closed:
            raise ValueError("the output was abandoned")
        return self._stream.write(data)

    def flush(self) -> None:
        if not self.closed:
            self._stream.flush()

    def close(self) -> None:
        if not self.closed:
            self._stream.flush()
            self.closed = True


class NpyWriter(Writer):
    """.npy into a file path, never holding the array.

    From an array (known `shape`), batches along axis 0 are appended after the header, as
    they come; batches along another axis (features on axis 0, say) are written in place
    with pwrite into the file, sized up front (a memory map would do the same, but its dirty
    pages count against this process until they are written back: the whole output). From
    a table, rows are appended and the final row count is written into the header at the
    end (NumPy pads its header so that the shape can grow in place)."""

    def __init__(self, path: str, shape: tuple[int, ...] | None, dtype: npt.DTypeLike) -> None:
        self._path = path
        self._dtype = np.dtype(dtype)
        self._shape = shape
        self._sized = False
        self._rows = 0
        self._width = 0
        self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        write_npy_header(self._fh, shape if shape is not None else (0, 0), self._dtype)
        self._header_len = self._fh.tell()

    def write(self, batch: TableBatch | ArrayBatch) -> None:
        if self._shape is not None and isinstance(batch, ArrayBatch):
            if batch.batch_axis == 0 and not self._sized:
                append_block(self._fh, batch.block, self._dtype)
                return
            if not self._sized:
                self._fh.flush()
                self._fh.truncate(self._header_len + int(np.prod(self._shape, dtype=np.int64)) * self._dtype.itemsize)
                self._sized = True
            block = np.asarray(batch.block, dtype=self._dtype)
            write_slab(self._fh.fileno(), self._header_len, self._shape, batch.batch_axis, batch.start, block)
            return
        with np.errstate(over="ignore"):  # apply_stream reports values beyond the dtype
            matrix = batch.to_matrix(self._dtype)
        self._width = matrix.shape[1]
        append_block(self._fh, matrix, self._dtype)
        self._rows += matrix.shape[0]

    def abort(self) -> None:
        self._fh.close()  # the file is about to be deleted

    def close(self) -> None:
        if self._shape is None:
            self._fh.seek(0)
            write_npy_header(self._fh, (self._rows, self._width), self._dtype)
            if self._fh.tell() != self._header_len:  # NumPy pads headers so this cannot happen
                raise RuntimeError(".npy header changed length while finishing the file")
        self._fh.close()


@contextlib.contextmanager
def open_writer(
    output: str, fmt: str, *, shape: tuple[int, ...] | None = None, dtype: npt.DTypeLike = np.float64
) -> Iterator[Writer]:
    """A writer for `output` ('-' is stdout). The file appears only when the block exits
    without an exception. `shape` is the full output shape for .npy from an array input."""
    if fmt == "npy":
        with _npy_target(output) as path, _finished(NpyWriter(path, shape, dtype)) as writer:
            yield writer
        return
    if output == STDIO:
        stdout = std_stream("stdout")
        with _finished(_table_writer(stdout, fmt)) as writer:
            yield writer
        stdout.flush()
        return
    codec = compression_suffix(output)[1]
    with atomic_path(output) as tmp:
        # -o data.csv.gz: compressed as it is written
        sink = open_compressed_sink(tmp, codec) if codec else tmp
        try:
            with _finished(_table_writer(sink, fmt)) as writer:
                yield writer
        finally:
            if not isinstance(sink, str):
                sink.close()


@contextlib.contextmanager
def _finished(writer: Writer) -> Iterator[Writer]:
    """`writer`, closed (finished) when the block succeeds, aborted when it fails: no CSV
    is formatted and no Parquet footer written into an output that is about to go."""
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
    writer.close()


def _table_writer(sink: BinaryIO | str, fmt: str) -> Writer:
    if fmt == "parquet":
        return ParquetWriter(sink)
    return CsvWriter(sink, "\t" if fmt == "tsv" else ",")


@contextlib.contextmanager
def _npy_target(output: str) -> Iterator[str]:
    """A regular file to build the .npy in (it is memory-mapped): the atomic temp file, or
    for stdout, a device or a pipe, a scratch file copied out at the end."""
    if output != STDIO and not is_special(output):
        with atomic_path(output) as tmp:
            yield tmp
        return
    folder = tempfile.gettempdir()
    try:
        scratch_dir = tempfile.TemporaryDirectory(prefix="normcli-")
    except OSError as exc:
        raise _scratch_error(folder, exc) from None
    with scratch_dir as scratch:
        path = f"{scratch}/out.npy"
        try:
            yield path
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):  # the scratch file, not the data
                raise _scratch_error(folder, exc) from None
            raise
        with open(path, "rb") as fh, open_output(output) as sink:
            shutil.copyfileobj(fh, sink, 1 << 20)


def _scratch_error(folder: str, exc: OSError) -> DataError:
    return DataError(
        f"cannot write the .npy scratch file in the temporary folder {folder}: {exc.strerror or exc}; "
        "set TMPDIR to a folder with room"
    )


@contextlib.contextmanager
def open_npy_stream(output: str, shape: tuple[int, ...], dtype: np.dtype) -> Iterator[Callable[[np.ndarray], None]]:
    """A function that appends C-ordered blocks (along axis 0) to a .npy of `shape`;
    the header is written first, so this streams to stdout as well as to a file (atomic)."""
    dtype = np.dtype(dtype)
    with open_output(output) as fh:
        write_npy_header(fh, shape, dtype)

        yield lambda block: append_block(fh, block, dtype)
