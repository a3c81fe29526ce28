"""A faster CSV reader for plain files: polars parses, in chunks cut at row ends.

pyarrow's streaming reader (CsvReader) hands record batches to NumPy and, on the way out,
to polars' writer; for plain CSV most of the CPU went into that parse and those hand-offs.
Here polars parses byte chunks of the file straight into frames that polars' writer takes
back as they are, and the NumPy work in between is the pipeline's own: the values, the
statistics and the bytes written are those of the general path.

It is taken only where polars reads a chunk exactly as pyarrow would (see `_plain`): a
regular UTF-8 file in the default dialect (comma or tab, double quotes, no BOM), rows
that all have the header's number of fields, no blank lines or carriage returns, quotes
only around whole fields, and types polars and pyarrow parse alike. The first chunk that
is not plain, or that polars refuses, hands the rest of the file (from that chunk's first
row) to pyarrow's streaming reader with the general path's options, so odd input gets the
general path's values and error messages.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from normcli.errors import DataError
from normcli.io import csv_reader
from normcli.io.csv_reader import CsvReader, _last_row_end, csv_error
from normcli.io.formats import STDIO
from normcli.io.reader_base import Reader, TableReader

__all__ = ["FastCsvReader", "FrameBatch", "fast_reader"]

# Bytes polars parses at a time (one batch). Peak memory is a few chunks (the reader stays
# two ahead, the writer holds two) plus polars' own buffers.
CHUNK_BYTES = 8 << 20
# A buffer this many chunks long with no row end in it (a stray quote hides them) goes to pyarrow
_LONGEST_ROW = 4
_NEWLINE, _QUOTE = 10, 34


def fast_reader(reader: Reader, writer: Any = None) -> Reader:
    """A FastCsvReader in place of `reader` where it reads the same values (a CsvReader of
    a plain file; with a `writer`, only when that writes CSV), else `reader` itself."""
    from normcli.io.writers import CsvWriter

    if os.environ.get("NORMCLI_FAST_CSV") == "0":  # the general path only, to compare the two
        return reader
    if writer is not None and not isinstance(writer, CsvWriter):
        return reader
    if type(reader) is not CsvReader:
        return reader
    start = _plain_start(reader)
    if start is None:
        return reader
    return FastCsvReader(reader, start)


def _plain_start(reader: CsvReader) -> int | None:
    """Where the rows start (after the header line), if the input is a plain file that
    polars reads as pyarrow does; else None."""
    path = reader._path
    if path == STDIO or not os.path.isfile(path):
        return None
    if not reader.dialect.is_plain:
        return None  # a dialect polars would read otherwise (tokens, decimal comma...): the general path
    p = reader._parse
    default = pacsv.ParseOptions(delimiter=p.delimiter, newlines_in_values=True)
    if p.delimiter not in (",", "\t") or not p.equals(default):
        return None
    head = reader._head
    end = head.find(b"\n")
    if end <= 0 or head.startswith(b"\xef\xbb\xbf") or b"\r" in head[:end] or head[:end].count(b'"') % 2:
        return None
    try:
        names = next(csv.reader([head[:end].decode()], delimiter=p.delimiter, strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    return end + 1 if names == reader.names else None


class FrameBatch:
    """Rows as a polars DataFrame: what FastCsvReader yields and CsvWriter writes as is."""

    def __init__(self, frame: Any, source: str) -> None:
        self.frame = frame
        self.source = source

    @property
    def names(self) -> list[str]:
        return list(self.frame.columns)

    @property
    def num_rows(self) -> int:
        return int(self.frame.height)

    def numeric(self, name: str) -> np.ndarray:
        """The column as float64, nulls as NaN."""
        import polars as pl

        col = self.frame.get_column(name)
        if not col.dtype.is_numeric():
            if col.null_count() == len(col):
                return np.full(len(col), np.nan)
            sample = col.drop_nulls()[0]
            raise DataError(f"{self.source}: column {name!r} is not numeric ({col.dtype}, e.g. {sample!r})")
        if col.dtype != pl.Float64:
            col = col.cast(pl.Float64)
        return col.to_numpy()

    def replace(self, new: Mapping[str, np.ndarray], dtype: np.dtype) -> FrameBatch:
        """The batch with `new` columns (float, NaN written as null) in place of the old ones."""
        import polars as pl

        # NaN becomes null as the Series is built: a tenth of the time of Series.fill_nan(None)
        cols = [
            pl.Series(name, np.ascontiguousarray(values, dtype=dtype), nan_to_null=True) for name, values in new.items()
        ]
        return FrameBatch(self.frame.with_columns(cols), self.source)

    def to_record_batch(self) -> pa.RecordBatch:
        return self.frame.to_arrow().to_batches()[0]


class FastCsvReader(TableReader):
    """The CSV `base` reader sniffed, read by polars in chunks of whole rows."""

    def __init__(self, base: CsvReader, start: int) -> None:
        self._base = base
        self.label = base.label
        self.format = base.format
        self.names = base.names
        self.numeric_names = base.numeric_names
        self.empty_names = base.empty_names
        self.total_bytes = base.total_bytes
        self._delimiter = base._parse.delimiter
        self._start = start

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[FrameBatch]:  # type: ignore[override]
        import polars as pl

        include = list(columns) if columns is not None else None
        wanted = self.names if include is None else include
        # the types the general path reads these columns as (CsvReader.batches)
        pa_types = {n: self._base._types[n] for n in wanted}
        if include is not None:
            pa_types.update({n: pa.float64() for n in include if n in self.empty_names})
        schema = {n: pl.String for n in self.names}
        schema.update({n: _polars_type(t, pl) for n, t in pa_types.items()})
        ints = any(pa.types.is_int64(t) for t in pa_types.values())
        alike = all(pa.types.is_float64(t) or pa.types.is_int64(t) or pa.types.is_string(t) for t in pa_types.values())

        def general(chunk: bytes) -> Any:
            return self._general_chunk(chunk, pa_types, include)

        parse = _ChunkParser(self.names, schema, include, self._delimiter, ints, general)
        self._base.close()
        offset = self._start  # where the next chunk starts in the file
        self.bytes_read = offset
        if not alike:  # a type polars may read otherwise (dates, booleans): all by pyarrow
            yield from self._general_rest(offset, pa_types, include)
            return
        with open(self._base._path, "rb") as fh:
            fh.seek(offset)
            rest = b""
            while True:
                block = fh.read(CHUNK_BYTES)
                buf = rest + block if rest else block
                if not buf:  # all read by polars
                    self.bytes_read = self.total_bytes or self.bytes_read
                    self._check_quotes()
                    return
                if block:
                    cut = _last_row_end(buf)
                    if cut == 0:  # no row ends in the buffer: a long row, or a stray quote
                        if len(buf) > _LONGEST_ROW * CHUNK_BYTES:
                            break
                        rest = buf
                        continue
                    chunk, rest = buf[:cut], buf[cut:]
                else:
                    chunk, rest = buf, b""
                frame = parse(chunk)
                if frame is None:
                    break
                offset += len(chunk)
                self.bytes_read = offset
                yield FrameBatch(frame, self.label)
        yield from self._general_rest(offset, pa_types, include)
        self._check_quotes()

    def _check_quotes(self) -> None:
        """A quote never closed makes the rest of the file one value in either parser: the
        same error as the general path, naming the line where it opens."""
        unclosed = self._base._unclosed_quote()
        if unclosed:
            raise unclosed

    def _general_chunk(self, chunk: bytes, types: dict[str, pa.DataType], include: list[str] | None) -> Any:
        """One chunk of whole rows read by pyarrow with the general path's options."""
        import polars as pl

        try:
            table = pacsv.read_csv(
                io.BytesIO(chunk),
                read_options=pacsv.ReadOptions(column_names=self.names, block_size=max(len(chunk), 1)),
                parse_options=self._base._parse,
                convert_options=self._base.dialect.convert_options(column_types=types, include_columns=include),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            # a row cut short by a quote that swallowed the rest: name the quote, as the general path does
            raise (self._base._unclosed_quote() or csv_error(self.label, exc, self.names)) from None
        except UnicodeDecodeError:
            raise DataError(f"{self.label} is not valid UTF-8 text; convert it to UTF-8 first") from None
        return pl.from_arrow(table)

    def _general_rest(
        self, offset: int, types: dict[str, pa.DataType], include: list[str] | None
    ) -> Iterator[FrameBatch]:
        """The file from `offset` (a row start) to its end through pyarrow's streaming reader,
        as the general path reads it."""
        import polars as pl

        source = pa.OSFile(os.fsencode(self._base._path), "r")  # a name need not be UTF-8
        try:
            source.seek(offset)
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(block_size=csv_reader.CSV_BLOCK_BYTES, column_names=self.names),
                parse_options=self._base._parse,
                convert_options=self._base.dialect.convert_options(column_types=types, include_columns=include),
            )
            for rb in reader:
                self.bytes_read = min(self.bytes_read + csv_reader.CSV_BLOCK_BYTES, self.total_bytes or 0)
                yield FrameBatch(pl.from_arrow(rb), self.label)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            # a row cut short by a quote that swallowed the rest: name the quote, as the general path does
            raise (self._base._unclosed_quote() or csv_error(self.label, exc, self.names)) from None
        except UnicodeDecodeError:
            raise DataError(f"{self.label} is not valid UTF-8 text; convert it to UTF-8 first") from None
        finally:
            source.close()

    def close(self) -> None:
        self._base.close()


def _polars_type(t: pa.DataType, pl: Any) -> Any:
    if pa.types.is_float64(t):
        return pl.Float64
    if pa.types.is_int64(t):
        return pl.Int64
    return pl.String  # string, or a type only pyarrow reads here (see `alike`)


class _ChunkParser:
    """Parses a chunk of whole rows with polars where polars reads it as pyarrow does, else
    with pyarrow (the general path's options); None when even the row cut is in doubt."""

    def __init__(
        self,
        names: list[str],
        schema: dict[str, Any],
        include: list[str] | None,
        delimiter: str,
        ints: bool,
        fallback: Any,
    ) -> None:
        self._names = names
        self._schema = schema
        last = names[-1]
        # the last column is always parsed: a row with too few fields leaves it null
        self._columns = None if include is None else list(dict.fromkeys([*include, last]))
        where = {n: i for i, n in enumerate(names)}  # polars selects by position without a header
        self._positions = None if self._columns is None else sorted(where[n] for n in self._columns)
        self._include = include
        self._delimiter = delimiter
        self._ints = ints
        self._fallback = fallback
        self._text = [n for n in (self._columns or names) if schema[n] == _string_type()]

    def __call__(self, chunk: bytes) -> Any:
        import polars as pl

        if b"\r" in chunk or b"\n\n" in chunk or chunk[:1] == b"\n" or (self._ints and b"+" in chunk):
            return None  # pyarrow skips blank lines and ends rows at a bare CR; polars takes '+1' as 1
        try:
            frame = pl.read_csv(
                io.BytesIO(chunk),
                has_header=False,
                schema=self._schema,
                columns=self._positions,
                separator=self._delimiter,
                quote_char='"',
                encoding="utf8",
                try_parse_dates=False,
                truncate_ragged_lines=False,
                raise_if_empty=False,
            )
        except (pl.exceptions.PolarsError, UnicodeDecodeError):
            # polars refuses a quote inside an unquoted field, which pyarrow keeps as text;
            # such a quote may also have misplaced the row cut, so the caller starts over
            return None
        if not self._whole_rows(chunk, frame):
            return self._fallback(chunk)
        if self._include is not None and self._names[-1] not in self._include:
            frame = frame.drop(self._names[-1])
        return frame

    def _whole_rows(self, chunk: bytes, frame: Any) -> bool:
        """Whether every row had all its fields: polars fills the missing fields of a short
        row with nulls (the last column's first), where pyarrow refuses the row."""
        import polars as pl

        ncols = len(self._names)
        if ncols == 1 or frame.get_column(self._names[-1]).null_count() == 0:
            return True
        quoted = 0
        if b'"' in chunk:  # delimiters inside quoted text do not separate fields
            if self._columns is not None:
                return False
            counts = frame.select(pl.col(n).str.count_matches(self._delimiter, literal=True).sum() for n in self._text)
            quoted = int(sum(counts.row(0))) if self._text else 0
        delims = int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == ord(self._delimiter)))
        return delims - quoted == (ncols - 1) * frame.height


def _string_type() -> Any:
    import polars as pl

    return pl.String
