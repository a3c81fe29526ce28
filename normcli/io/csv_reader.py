"""The CSV/TSV reader: pyarrow's incremental CSV reader behind the dialect sniffed from the
head of the input (compression, encoding, delimiter, header), with pyarrow's CSV errors turned
into one line that names the file, column and value.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, cast

import pyarrow as pa
import pyarrow.csv as pacsv

from normcli.errors import DataError
from normcli.io.batch import TableBatch, dtype_name, is_numeric_type
from normcli.io.dialect import SNIFF_CHARS, Dialect, DialectOptions, sniff_dialect
from normcli.io.formats import STDIO, compression_suffix, label
from normcli.io.inputs import open_input, read_error
from normcli.io.quotes import QuoteScanner, scan_file
from normcli.io.reader_base import TableReader, _check_names, _is_url
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
from normcli.validate import first_line

__all__ = ["CsvReader", "csv_error"]

# Bytes pyarrow parses at a time. Its streaming reader keeps a few dozen blocks in flight,
# so this sets the memory ceiling; 2 MB also measured fastest (benchmarks/run.py).
CSV_BLOCK_BYTES = 2 << 20
SNIFF_BYTES = 1 << 20  # the head of a CSV whose types decide how the rest is read
MAX_SNIFF_BYTES = 64 << 20  # a first line longer than this is refused, not swallowed
MAX_CSV_BLOCK_BYTES = 128 << 20  # a file with a row longer than a block is read again in blocks up to this


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
        self._quotes: QuoteScanner | None = None
        stream, self._rereadable = self._open_input(path)
        self._stream: Any = stream
        self._raw = stream  # what close() closes: the decoding streams put before it hold no resources
        if self._rereadable:
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
        self.notes: list[str] = []
        if self.dialect.header and self.dialect.names is None and _header_looks_like_data(schema, self.dialect):
            shown = ", ".join(self.names[:3]) + (", ..." if len(self.names) > 3 else "")
            self.notes.append(
                f"the header of {self.label} ({shown}) looks like a row of data; "
                "if the file has no header, give --no-header"
            )

    def _open_input(self, path: str) -> tuple[BinaryIO, bool]:
        """The input's bytes and whether they can be read again; a URL's fsspec file is read
        once, in order, like stdin."""
        if _is_url(path):
            from normcli.io.fs import open_url_input

            stream, self.total_bytes = open_url_input(path)
            return stream, False
        return open_input(path)

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
        raise (self._whole and self._unclosed_quote(self._head)) or error

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
        if self._whole and not head.endswith((b"\n", b"\r")):
            head += b"\n"  # pyarrow calls a lone header without its line break an empty file
            cuts = [len(head)]
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
        while the interpreter exits (a SIGABRT in std::terminate). stdin, a pipe or `<(...)`
        cannot be reopened (a FIFO reopened waits forever for a new writer), and text that
        Python transcodes or filters is Python's anyway, so there the sniffed head is
        replayed before the rest, shown to the quote scanner on the way."""
        if self._through_python:
            self._quotes = QuoteScanner(self._parse.delimiter, self._parse.quote_char or '"')
            # buffered, so that each read pyarrow asks for is whole: short blocks would cut
            # quoted rows across more than two blocks, which its parser refuses
            return io.BufferedReader(_Replay(self._head, self._stream, self._quotes), CSV_BLOCK_BYTES)
        self._raw.close()
        source = pa.OSFile(os.fsencode(self._path), "r")  # bytes: a name need not be UTF-8
        if self.dialect.compression:
            return decompressed(source, self.dialect.compression, self.label)
        return source

    @property
    def _through_python(self) -> bool:
        """Whether the input reaches pyarrow through Python (so it cannot be read again)."""
        return not self._rereadable or self.dialect.needs_filter

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch]:
        types, include = self._types, None
        if columns is not None:
            # Only these are parsed, so text further down another column does not matter;
            # one asked for by name that was empty in the head is read as numbers.
            include = list(columns)
            types = {n: pa.float64() if n in self.empty_names else self._types[n] for n in include}
        block_size, rows_done = CSV_BLOCK_BYTES, 0
        try:
            while True:  # once, unless a row longer than the block makes it start over with a bigger one
                source = self._source()
                reader = pacsv.open_csv(
                    source,
                    read_options=self.dialect.read_options(block_size),
                    parse_options=self._parse,
                    convert_options=self.dialect.convert_options(column_types=types, include_columns=include),
                )
                skip = rows_done  # rows already handed out before starting over
                while True:
                    try:
                        rb = reader.read_next_batch()
                    except StopIteration:
                        self.bytes_read = self.total_bytes or self.bytes_read
                        unclosed = self._unclosed_quote()
                        if unclosed:
                            raise unclosed from None
                        return
                    except pa.ArrowInvalid as exc:
                        if not _straddles(exc):
                            raise
                        block_size = self._grown_block(block_size, rows_done)
                        source.close()
                        break
                    if skip:
                        cut = min(skip, rb.num_rows)
                        rb, skip = rb.slice(cut), skip - cut
                        if rb.num_rows == 0:
                            continue
                    # one batch per block read; exact enough for a progress bar
                    self.bytes_read += CSV_BLOCK_BYTES
                    if self.total_bytes is not None:
                        self.bytes_read = min(self.bytes_read, self.total_bytes)
                    rows_done += rb.num_rows
                    yield TableBatch(rb, self.label)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            # a row cut short by a quote that swallowed the rest: name the quote, not the row
            raise (self._unclosed_quote() or self._with_hint(csv_error(self.label, exc, self.names))) from None
        except UnicodeDecodeError:
            raise DataError(
                f"{self.label} is not valid UTF-8 text; give its encoding with --encoding or convert it to UTF-8"
            ) from None
        except OSError as exc:
            if self.dialect.compression:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise DataError(
                    f"{self.label} is not a readable {self.dialect.compression} stream ({reason})"
                ) from None
            # the input failed (a hung-up terminal, a disk): not the output's fault
            raise read_error(self.label, exc) from None
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

    def _unclosed_quote(self, whole: bytes | None = None) -> DataError | None:
        """A quote that opens a value and is never closed, which pyarrow reads as one value
        running to the end of the input, swallowing every row after it: an error naming
        the line where it opens. A file is scanned again (from the page cache; a quote-free
        chunk costs a search for one), stdin as it streamed through."""
        if not self._parse.quote_char or self._parse.escape_char or not self._parse.double_quote:
            return None  # other quoting rules than the scanner's: leave it to the parser
        if whole is not None:  # the whole input, read for sniffing
            scanner = QuoteScanner(self._parse.delimiter, self._parse.quote_char)
            scanner.feed(whole)
            found = scanner.finish()
        elif self._through_python:  # stdin, a pipe, transcoded text: scanned as it streamed through
            found = self._quotes.finish() if self._quotes is not None else None
        elif self.dialect.compression:  # not seen decompressed here: the parser's error stands
            found = None
        else:
            found = scan_file(self._path, self._parse.delimiter, self._parse.quote_char)
        if found is None:
            return None
        text = found.text if len(found.text) <= 60 else found.text[:60] + "..."
        return DataError(
            f"{self.label}: the quote opened on line {found.line} ({text!r}) is never closed, so every row after "
            'it would be read as one value; close the quote, or double it ("") if it is part of the text'
        )

    def _grown_block(self, block_size: int, rows_done: int) -> int:
        """The block size to start over with after a row longer than `block_size` bytes; an
        error naming where the row is if the input cannot be read again or the row is huge."""
        where = f"a row after data row {rows_done:,}" if rows_done else "a row"
        if self._through_python:
            raise DataError(
                f"{self.label}: {where} is longer than {block_size >> 20} MiB, the most normcli reads "
                "of a stream at once; save the input to a file and give its path"
            )
        if block_size >= MAX_CSV_BLOCK_BYTES:
            raise DataError(
                f"{self.label}: {where} is longer than {MAX_CSV_BLOCK_BYTES >> 20} MiB, "
                "more than normcli holds of one row; is this CSV?"
            )
        return min(block_size * 8, MAX_CSV_BLOCK_BYTES)

    @property
    def column_types(self) -> dict[str, pa.DataType]:
        """The type each column will be read as."""
        return dict(self._types)

    def read_as_text(self, names: Iterable[str]) -> None:
        """Read these columns as their original text (the caller types them: io.unscaled)."""
        for name in names:
            self._types[name] = pa.string()

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


def _straddles(exc: Exception) -> bool:
    """pyarrow's "straddling object straddles two block boundaries": a row longer than a block."""
    return "straddl" in str(exc)


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
    """The bytes already read for sniffing, then the rest of the stream (each shown to
    `quotes` on the way)."""

    def __init__(self, head: bytes, rest: BinaryIO, quotes: QuoteScanner | None = None) -> None:
        self._head = memoryview(head)
        # sys.stdin.buffer is a BufferedReader; typing's BinaryIO does not declare readinto
        self._rest = cast(io.BufferedIOBase, rest)
        self._quotes = quotes

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._head.nbytes:
            n = min(len(buf), self._head.nbytes)
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            n = self._rest.readinto(buf)
        if self._quotes is not None and n:
            self._quotes.feed(memoryview(buf)[:n])
        return n


_CSV_COLUMN = re.compile(r"CSV column #(\d+)")
# pyarrow may put "Row #N: " before the conversion error (seen in a process where a Dask
# LocalCluster had run): the column is named either way
_CSV_CONVERSION = re.compile(
    r"CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+): invalid value '(.*)'", re.S
)
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
        idx = int(m.group(1)) if m else len(names or ())
        where = f": column {names[idx]!r}" if names and idx < len(names) else ""
        return DataError(f"{source} is not valid UTF-8 text{where}; convert it to UTF-8 first")
    if "Empty CSV file" in msg:
        return DataError(f"{source} is empty")
    return DataError(f"{source}: cannot read as CSV: {first_line(exc)}")
