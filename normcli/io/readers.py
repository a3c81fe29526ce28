"""Readers: a file (or stdin) becomes a stream of batches with named columns.

Every reader streams: CSV/TSV through pyarrow's incremental CSV reader, Parquet a record
batch at a time, .npy as slices of a memory map (or of stdin). Memory is bounded by the
batch size, never by the file size.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from normcli.errors import DataError, UsageError
from normcli.io.atomic import std_stream
from normcli.io.batch import ArrayBatch, TableBatch, dtype_name, is_numeric_type
from normcli.io.dialect import SNIFF_CHARS, Dialect, DialectOptions, sniff_dialect
from normcli.io.formats import STDIO, compression_suffix, detect_format, label
from normcli.io.streams import (
    MAGIC_BYTES,
    CommentFilter,
    SpaceCollapser,
    Transcoder,
    compression_of,
    decompressed,
    read_exactly,
    sniff_bom,
)

__all__ = ["CsvReader", "ParquetReader", "Reader", "TableReader", "open_reader"]

# Bytes pyarrow parses at a time. Its streaming reader keeps a few dozen blocks in flight,
# so this sets the memory ceiling; 2 MB also measured fastest (benchmarks/run.py).
CSV_BLOCK_BYTES = 2 << 20
PARQUET_BATCH_ROWS = 128 * 1024
NPY_BATCH_BYTES = 8 << 20  # with a batch or two queued on each side of the main thread
SNIFF_BYTES = 1 << 20  # the head of a CSV whose types decide how the rest is read
MAX_SNIFF_BYTES = 64 << 20  # a first line longer than this is refused, not swallowed


class Reader:
    """What every reader offers: its columns, which are numeric, how the input is laid out,
    and its batches (`batches()` may be called once)."""

    label: str
    format: str
    names: list[str]
    numeric_names: list[str]
    layout: dict
    input_types: dict[str, str | None] = {}  # the input type of each column (int64, float32, ...) where known
    notes: list[str] = []  # things about the input worth a warning (a header that looks like data)
    total_bytes: int | None = None
    bytes_read: int = 0

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch | ArrayBatch]:
        """The input in batches; with `columns`, a table reader may leave the others out."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the input; safe to call twice. Used as a context manager, a reader is
        closed also when the command fails before reading (a bad option, say)."""

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_reader(
    path: str,
    fmt: str | None = None,
    *,
    float_columns: Iterable[str] | None = None,
    text_passthrough: bool = False,
    axis: int | None = None,
    dialect: DialectOptions | None = None,
) -> Reader:
    """Open `path` ('-' for stdin) for batch reading.

    `float_columns` are read as float64 (None: every numeric-looking column), so a later
    batch cannot change their type; with `text_passthrough`, other CSV columns are kept as
    their original text. `axis` is the feature axis of an N-D .npy array. `dialect`: what
    the user said about a CSV/TSV input (the rest is sniffed)."""
    fmt = detect_format(path, fmt, default="csv" if path == STDIO else None)
    if path != STDIO:
        _check_readable(path)
    codec = compression_suffix(path)[1]
    if codec and fmt in ("parquet", "npy"):
        raise UsageError(f"{path}: compressed {fmt} input is not supported; decompress it first")
    given = (dialect or DialectOptions()).given()
    if given and fmt in ("parquet", "npy"):
        raise UsageError(f"{label(path)} is {fmt}; CSV options ({', '.join(sorted(given))}) apply to CSV/TSV only")
    if fmt == "npy":
        from normcli.io.arrays import ArrayReader

        return ArrayReader(path, axis=axis)
    if axis is not None:
        raise UsageError(f"--axis applies to .npy input only, and {label(path)} is {fmt}")
    if fmt == "parquet":
        return ParquetReader(path)
    return CsvReader(path, "\t" if fmt == "tsv" else ",", fmt, float_columns, text_passthrough, dialect)


def _check_readable(path: str) -> None:
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory, not a data file")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied")


def _check_names(names: list[str], source: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(f"{source} has two columns named {name!r}; rename one")
        seen.add(name)


class TableReader(Reader):
    layout = {"kind": "table"}


class CsvReader(TableReader):
    """CSV/TSV through pyarrow's streaming reader. The dialect (delimiter, decimal mark,
    compression, encoding) and the types are decided once, from the head of the input, and
    then fixed, so every batch has the same schema."""

    def __init__(
        self,
        path: str,
        delimiter: str,
        fmt: str,
        float_columns: Iterable[str] | None,
        text_passthrough: bool,
        options: DialectOptions | None = None,
    ) -> None:
        self.label = label(path)
        self.format = fmt
        self._path = path
        self._stream: Any = std_stream("stdin") if path == STDIO else open(path, "rb")  # noqa: SIM115
        self._raw = self._stream  # what close() closes: the decoding streams put before it hold no resources
        if path != STDIO:
            self.total_bytes = os.fstat(self._stream.fileno()).st_size
        try:
            self.dialect = self._open_dialect(options or DialectOptions(), delimiter)
            if self.dialect.compression:
                self.total_bytes = None  # progress counts decompressed bytes: the total is unknown
            self._parse = self.dialect.parse_options()
            self._head = self._read_head()
            schema = self._sniff_schema()
        except BaseException:
            self.close()
            raise
        self.names = schema.names
        _check_names(self.names, self.label)
        sniffed_numeric = [f.name for f in schema if is_numeric_type(f.type)]
        wanted = set(sniffed_numeric if float_columns is None else float_columns)
        types: dict[str, pa.DataType] = {}
        for f in schema:
            if f.name in wanted:
                types[f.name] = pa.float64()
            elif text_passthrough or pa.types.is_null(f.type):
                # kept as written: "007" stays "007", and a later row may hold any text
                types[f.name] = pa.string()
            else:
                types[f.name] = f.type
        self._types = types
        self.empty_names = [f.name for f in schema if pa.types.is_null(f.type)]
        self.numeric_names = [n for n in self.names if n in wanted or is_numeric_type(schema.field(n).type)]
        # the type each column had in the head (int64, double, ...), for the scaler file
        self.input_types = {f.name: dtype_name(f.type) for f in schema}
        self.notes = []
        if self.dialect.header and self.dialect.names is None and _header_looks_like_data(schema, self.dialect):
            shown = ", ".join(self.names[:3]) + (", ..." if len(self.names) > 3 else "")
            self.notes.append(
                f"the header of {self.label} ({shown}) looks like a row of data; "
                "if the file has no header, give --no-header"
            )

    def _open_dialect(self, options: DialectOptions, default_delimiter: str) -> Dialect:
        """Put decompression and transcoding in front of the input, as its first bytes ask,
        then sniff the dialect from its head. `self._stream` becomes the UTF-8 text."""
        magic = read_exactly(self._stream, MAGIC_BYTES)
        codec = compression_of(magic)
        named = compression_suffix(self._path)[1]
        if named and codec != named:
            raise DataError(f"{self.label} is not {named}-compressed (its first bytes are not {named}'s)")
        stream: Any = _Replay(magic, self._stream)
        if codec:
            stream = decompressed(stream, codec, self.label)
        start = read_exactly(stream, 4)
        stream = _Replay(start, stream)
        encoding = options.encoding or sniff_bom(start) or "utf-8"
        if encoding != "utf-8":
            stream = Transcoder(stream, encoding, self.label)
        if options.comment:
            stream = CommentFilter(stream, options.comment)
        head = read_exactly(stream, SNIFF_BYTES)
        # the rows the dialect is read from; all of the head only when rows are skipped first
        sample = head if options.skip_rows else head[: 4 * SNIFF_CHARS]
        dialect = sniff_dialect(
            sample.decode("utf-8", errors="replace"),
            options,
            default_delimiter=default_delimiter,
            compression=codec,
            encoding=encoding,
            source=self.label,
        )
        stream = _Replay(head, stream)
        self._stream = SpaceCollapser(stream) if dialect.spaces else stream
        return dialect

    def _read_head(self) -> bytes:
        head = read_exactly(self._stream, SNIFF_BYTES)
        if not head:
            raise DataError(f"{self.label} is empty")
        self._whole = len(head) < SNIFF_BYTES  # short reads happen only at the end of input
        return head

    def _read_more_head(self) -> bool:
        """Grow the head by SNIFF_BYTES; False when there is no more to read or allowed."""
        if self._whole or len(self._head) >= MAX_SNIFF_BYTES:
            return False
        more = read_exactly(self._stream, SNIFF_BYTES)
        self._whole = len(more) < SNIFF_BYTES
        self._head += more
        return True

    def _sniff_schema(self) -> pa.Schema:
        """The types of the head's rows, read until it holds the header and a whole row."""
        if b"\x00" in self._head[:65536]:
            hint = " (it looks like Parquet)" if self._head.startswith(b"PAR1") else ""
            raise DataError(
                f"{self.label} is binary, not {self.format.upper()} text{hint}; name its format with --format"
            )
        while True:
            schema, error = self._sniff_head()
            if schema is not None:
                return schema
            if not self._read_more_head():
                break
        if error is None:  # no line break ends a row in the whole head
            raise DataError(f"{self.label}: the first row is longer than {MAX_SNIFF_BYTES >> 20} MiB; is this CSV?")
        raise error

    def _sniff_head(self) -> tuple[pa.Schema | None, DataError | None]:
        """The schema of the head cut after its last whole row, or the error that cutting
        gave. Where the head ends mid-file the cut is a guess: first after the last line
        break outside quotes (quoted values may span lines), else after the last line
        break (a lone quote inside an unquoted field fools the first guess)."""
        head = self._head
        cuts = (
            [len(head)]
            if self._whole
            else [c for c in dict.fromkeys([_last_row_end(head), head.rfind(b"\n") + 1]) if c]
        )
        first_error = None
        for cut in cuts:
            try:
                reader = pacsv.open_csv(
                    io.BytesIO(head[:cut]),
                    read_options=self.dialect.read_options(max(cut, 1)),
                    parse_options=self._parse,
                    convert_options=self.dialect.convert_options(),
                )
                schema = reader.schema
                schema.names  # noqa: B018 - decodes the header: fails here on bytes that are not UTF-8
                rows = sum(batch.num_rows for batch in reader)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                first_error = first_error or self._with_hint(csv_error(self.label, exc, None))
                continue
            except UnicodeDecodeError:
                raise DataError(
                    f"{self.label}: the header is not valid UTF-8 text; give its encoding (--encoding latin-1, "
                    "cp1252, ...) or convert the file to UTF-8"
                ) from None
            if rows:
                return schema, None
            if self._whole:
                raise DataError(f"{self.label} has no data rows, only a header")
        return None, first_error

    def _source(self) -> Any:
        """What pyarrow parses. A plain or gzip/bz2/zstd file is reopened natively from its
        start: pyarrow reads ahead on its own IO threads, and a Python file object there
        makes them take the GIL for every block and free Python buffers at any moment, even
        while the interpreter exits (a SIGABRT in std::terminate). stdin cannot be reopened,
        and text that Python transcodes or filters is Python's anyway, so there the sniffed
        head is replayed before the rest."""
        if self._path == STDIO or self.dialect.needs_filter:
            # buffered, so that each read pyarrow asks for is whole: short blocks would cut
            # quoted rows across more than two blocks, which its parser refuses
            return io.BufferedReader(_Replay(self._head, self._stream), CSV_BLOCK_BYTES)
        self._raw.close()
        source = pa.OSFile(self._path, "r")
        if self.dialect.compression:
            return decompressed(source, self.dialect.compression, self.label)
        return source

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch]:
        types, include = self._types, None
        if columns is not None:
            # Only these are parsed, so text further down another column does not matter;
            # one asked for by name that was empty in the head is read as numbers.
            include = list(columns)
            types = {n: pa.float64() if n in self.empty_names else self._types[n] for n in include}
        try:
            source = self._source()
            reader = pacsv.open_csv(
                source,
                read_options=self.dialect.read_options(CSV_BLOCK_BYTES),
                parse_options=self._parse,
                convert_options=self.dialect.convert_options(column_types=types, include_columns=include),
            )
            while True:
                try:
                    rb = reader.read_next_batch()
                except StopIteration:
                    self.bytes_read = self.total_bytes or self.bytes_read
                    return
                # one batch per block read; exact enough for a progress bar
                self.bytes_read += CSV_BLOCK_BYTES
                if self.total_bytes is not None:
                    self.bytes_read = min(self.bytes_read, self.total_bytes)
                yield TableBatch(rb, self.label)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise self._with_hint(csv_error(self.label, exc, self.names)) from None
        except UnicodeDecodeError:
            raise DataError(
                f"{self.label} is not valid UTF-8 text; give its encoding with --encoding or convert it to UTF-8"
            ) from None
        except OSError as exc:
            if not self.dialect.compression:
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"{self.label} is not a readable {self.dialect.compression} stream ({reason})") from None
        finally:
            self.close()

    def _with_hint(self, error: DataError) -> DataError:
        """A parse error, with the sniffed dialect said where it may be the cause."""
        message = str(error)
        if "UTF-8" in message:
            return DataError(message.replace("convert the file to UTF-8 first", "give its encoding with --encoding"))
        described = self.dialect.describe()
        if described and "fields where" in message:
            return DataError(f"{message} (read as {described}; give --delimiter if that is wrong)")
        if described and "non-numeric" in message:
            return DataError(f"{message} (read as {described}; give --delimiter or --decimal if that is wrong)")
        return error

    def close(self) -> None:
        if self._path != STDIO:
            self._raw.close()


def _header_looks_like_data(schema: pa.Schema, dialect: Dialect) -> bool:
    """Whether every header name is a number of its column's kind (an integer over integers,
    a number over floats), as csv.Sniffer.has_header judges: then it is likely a data row."""
    for f in schema:
        text = f.name.strip().replace(dialect.decimal, ".") if dialect.decimal != "." else f.name.strip()
        try:
            float(text)
        except ValueError:
            return False
        if pa.types.is_integer(f.type) and not re.fullmatch(r"[+-]?\d+", text):
            return False
        if not (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)):
            return False
    return len(schema) > 0


def _last_row_end(head: bytes) -> int:
    """Just past the last line break of `head` with an even number of quote characters
    before it, so not inside a quoted value (doubled quotes count twice); 0 if none."""
    end = head.rfind(b"\n")
    quotes = head.count(b'"', 0, max(end, 0))
    while end > 0 and quotes % 2:
        previous = head.rfind(b"\n", 0, end)
        quotes -= head.count(b'"', previous + 1, end)
        end = previous
    return end + 1 if end > 0 else 0


class _Replay(io.RawIOBase):
    """The bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        if self._head.nbytes:
            n = min(len(buf), self._head.nbytes)
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            n = self._rest.readinto(buf)
        return n


_CSV_COLUMN = re.compile(r"CSV column #(\d+)")
_CSV_CONVERSION = re.compile(r"CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'", re.S)
_CSV_COLUMNS = re.compile(r"Expected (\d+) columns, got (\d+): ?(.*)", re.S)


def csv_error(source: str, exc: Exception, names: list[str] | None) -> DataError:
    """A pyarrow CSV error as one line that names the file, column and value."""
    msg = str(exc)
    m = _CSV_CONVERSION.search(msg)
    if m:
        idx, to_type, value = int(m.group(1)), m.group(2), m.group(3)
        col = names[idx] if names and idx < len(names) else f"#{idx + 1}"
        if "UTF8" in msg or to_type == "string":
            return DataError(f"{source}: column {col!r} is not valid UTF-8 text; convert the file to UTF-8 first")
        value = value if len(value) <= 40 else value[:40] + "..."
        if to_type == "double":
            return DataError(f"{source}: column {col!r} has a non-numeric value {value!r}; it cannot be scaled")
        return DataError(
            f"{source}: column {col!r} changes type after the first rows (value {value!r} is not {to_type})"
        )
    m = _CSV_COLUMNS.search(msg)
    if m:
        row = m.group(3).strip().splitlines()[0][:60] if m.group(3).strip() else ""
        return DataError(
            f"{source}: a row has {m.group(2)} fields where the header has {m.group(1)}" + (f": {row!r}" if row else "")
        )
    if "UTF8" in msg or "UTF-8" in msg:
        m = _CSV_COLUMN.search(msg)
        idx = int(m.group(1)) if m else None
        where = f": column {names[idx]!r}" if m and names and idx < len(names) else ""
        return DataError(f"{source} is not valid UTF-8 text{where}; convert it to UTF-8 first")
    if "Empty CSV file" in msg:
        return DataError(f"{source} is empty")
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    return DataError(f"{source}: cannot read as CSV: {first}")


class ParquetReader(TableReader):
    """Parquet, a record batch at a time. A Parquet stream on stdin is read into memory
    first, because the format keeps its index at the end of the file."""

    format = "parquet"

    def __init__(self, path: str) -> None:
        self.label = label(path)
        try:
            if path == STDIO:
                data = std_stream("stdin").read()
                if not data:
                    raise DataError("<stdin> is empty")
                self.total_bytes = len(data)
                self._file = pq.ParquetFile(pa.BufferReader(data))
            else:
                self.total_bytes = os.path.getsize(path)
                if self.total_bytes == 0:
                    raise DataError(f"{path} is empty")
                self._file = pq.ParquetFile(path)
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError) as exc:
            raise parquet_error(self.label, exc) from None
        self.names = schema.names
        _check_names(self.names, self.label)
        self.numeric_names = [f.name for f in schema if is_numeric_type(f.type)]
        self.input_types = {f.name: dtype_name(f.type) for f in schema}

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch]:
        total_rows = max(self._file.metadata.num_rows, 1)
        done = 0
        try:
            cols = list(columns) if columns is not None else None
            for rb in self._file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=cols):
                done += rb.num_rows
                self.bytes_read = int(self.total_bytes * done / total_rows) if self.total_bytes else 0
                yield TableBatch(rb, self.label)
        except (pa.ArrowException, OSError) as exc:
            raise parquet_error(self.label, exc) from None
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()


def parquet_error(source: str, exc: Exception) -> DataError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{source} is not a readable Parquet file ({msg})")
