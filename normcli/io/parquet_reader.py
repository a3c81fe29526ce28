"""The Parquet reader: a record batch at a time, decoded page by page through small buffers,
so memory follows the batch and not the row group; stdin and pipes are spooled first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from normcli.errors import DataError
from normcli.io.batch import TableBatch, dtype_name, is_numeric_type
from normcli.io.formats import STDIO, label
from normcli.io.inputs import is_stream, open_input, spool
from normcli.io.reader_base import TableReader, _check_names, _is_url
from normcli.validate import first_line

__all__ = ["ParquetReader", "parquet_error"]

# Parquet is decoded a page at a time into batches of about PARQUET_BATCH_BYTES (of the columns
# read), at most PARQUET_BATCH_ROWS rows: memory follows the batch, not the row group, so a file
# written as one row group of a million rows (pandas' default) is read in bounded memory too.
PARQUET_BATCH_BYTES = 4 << 20
PARQUET_BATCH_ROWS = 128 * 1024
# Each column chunk is read through a buffer of this size (pyarrow's default reads a whole
# column chunk, or with pre_buffer every chunk of every row group asked for, before decoding).
PARQUET_BUFFER_BYTES = 256 << 10


def arrow_source(path: str) -> str | pa.NativeFile:
    """`path` for pyarrow, which encodes names as UTF-8: a name holding other bytes (which
    Python keeps as surrogates) is opened here, by its bytes, and handed over as a file."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return pa.OSFile(os.fsencode(path), "r")
    return path


class ParquetReader(TableReader):
    """Parquet, a batch of rows at a time, decoded page by page: each column chunk is read
    through a small buffer, never whole, and nothing is read ahead (pyarrow's `pre_buffer`
    would fetch every row group asked for up front: memory growing with the file). A Parquet
    stream on stdin is read into memory first, because the format keeps its index at the end."""

    format = "parquet"

    def __init__(self, path: str) -> None:
        self.label = label(path)
        self._spooled: BinaryIO | None = None
        try:
            source, self.total_bytes = self._open(path)
            if self.total_bytes == 0:
                raise DataError(f"{self.label} is empty")
            _use_returning_memory_pool()
            self._file = pq.ParquetFile(source, pre_buffer=False, buffer_size=PARQUET_BUFFER_BYTES)
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError) as exc:
            self._close_spool()
            raise parquet_error(self.label, exc) from None
        except BaseException:
            self._close_spool()
            raise
        self.names = schema.names
        _check_names(self.names, self.label)
        self.numeric_names = [f.name for f in schema if is_numeric_type(f.type)]
        self.input_types = {f.name: dtype_name(f.type) for f in schema}

    def _open(self, path: str) -> tuple[str | BinaryIO | pa.NativeFile, int]:
        """A path pyarrow can open natively and seek in, and its size. Parquet keeps its index
        at the end, so stdin, a pipe or `<(...)` is first spooled to a temporary file."""
        if _is_url(path):  # through a pyarrow file over the fsspec file, closed with the spool
            from normcli.io.fs import open_url_input

            self._spooled, size = open_url_input(path)
            return pa.PythonFile(self._spooled, mode="r"), size
        if path != STDIO and not is_stream(path):
            return arrow_source(path), os.path.getsize(path)
        stream, _ = open_input(path)
        try:
            self._spooled = spool(stream, self.label)
        finally:
            if path != STDIO:
                stream.close()
        fd = self._spooled.fileno()
        size = os.fstat(fd).st_size
        if os.path.exists(f"/proc/self/fd/{fd}"):  # the anonymous file, opened natively
            return f"/proc/self/fd/{fd}", size
        return self._spooled, size  # elsewhere pyarrow reads the Python file

    def _close_spool(self) -> None:
        if self._spooled is not None:
            self._spooled.close()
            self._spooled = None

    def batch_rows(self, columns: list[str] | None) -> int:
        """Rows per batch: about PARQUET_BATCH_BYTES of the `columns` decoded, judged by
        the widest row group's uncompressed sizes, at most PARQUET_BATCH_ROWS."""
        meta = self._file.metadata
        leaves: list[int] = []  # the Parquet (leaf) columns that store the columns read
        start = 0
        for field in self._file.schema_arrow:
            count = _leaf_count(field.type)
            if columns is None or field.name in columns:
                leaves.extend(range(start, start + count))
            start += count
        widest = 0.0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            if group.num_rows:
                size = sum(group.column(c).total_uncompressed_size for c in leaves if c < group.num_columns)
                widest = max(widest, size / group.num_rows)
        rows = int(PARQUET_BATCH_BYTES // widest) if widest else PARQUET_BATCH_ROWS
        return max(1, min(PARQUET_BATCH_ROWS, rows))

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch]:
        total_rows = max(self._file.metadata.num_rows, 1)
        done = 0
        cols = list(columns) if columns is not None else None
        rows = self.batch_rows(cols)
        try:
            for rb in self._file.iter_batches(batch_size=rows, columns=cols):
                done += rb.num_rows
                self.bytes_read = int(self.total_bytes * done / total_rows) if self.total_bytes else 0
                yield TableBatch(rb, self.label)
        except MemoryError as exc:  # pa.ArrowMemoryError too: a failed malloc is not a damaged file
            raise self._too_big(done, done + rows, exc) from None
        except (pa.ArrowException, OSError) as exc:
            error = parquet_error(self.label, exc)
            if done:  # the footer was fine: say where the damage is
                error = DataError(f"{error} after row {done:,} of {total_rows:,}")
            raise error from None
        finally:
            self.close()

    def _too_big(self, start: int, stop: int, exc: BaseException) -> DataError:
        """The row group(s) holding rows start..stop, being read when memory ran out, with
        their size and the fix. (A batch may span the end of one row group.)"""
        meta = self._file.metadata
        groups, first_row = [], 0
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            if first_row < stop and start < first_row + rows:
                groups.append(g)
            first_row += rows
        groups = groups or [max(meta.num_row_groups - 1, 0)]
        which = f" {groups[0] + 1}" if len(groups) == 1 else f"s {groups[0] + 1}-{groups[-1] + 1}"
        biggest = max(groups, key=lambda g: meta.row_group(g).total_byte_size) if meta.num_row_groups else 0
        size = meta.row_group(biggest).total_byte_size / 2**20 if meta.num_row_groups else 0.0
        count = meta.row_group(biggest).num_rows if meta.num_row_groups else 0
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        return DataError(
            f"{self.label}: row group{which} of {meta.num_row_groups} ({count:,} rows, {size:,.1f} MB stored "
            f"uncompressed) did not fit in memory ({reason}); free memory, or rewrite the file with smaller row "
            "groups (pyarrow: write_table(table, path, row_group_size=100_000))"
        )

    def close(self) -> None:
        self._file.close()
        self._close_spool()


def _use_returning_memory_pool() -> None:
    """Arrow allocations from jemalloc with pages returned to the system at once (decay 0):
    decoding Parquet allocates and frees a page's worth per column per batch, and the default
    allocator (mimalloc) keeps freed pages, so peak RSS (benchmarks/bench_parquet_memory.py)
    grew by about a third. A pool chosen with ARROW_DEFAULT_MEMORY_POOL is left alone, and a
    pyarrow built without jemalloc keeps its default; so does a process with a limit on its
    address space (ulimit -v), where jemalloc's reservations abort the process (at 600 MB)
    while mimalloc works."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") or _address_space_limited():
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pass


def _address_space_limited() -> bool:
    try:
        import resource
    except ImportError:  # not a Unix
        return False
    return resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY


def _leaf_count(t: pa.DataType) -> int:
    """How many Parquet columns store an Arrow column of type `t`."""
    if pa.types.is_struct(t):
        return sum(_leaf_count(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_map(t):
        return _leaf_count(t.key_type) + _leaf_count(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _leaf_count(t.value_type)
    return 1


def parquet_error(source: str, exc: Exception) -> DataError:
    return DataError(f"{source} is not a readable Parquet file ({first_line(exc)})")
