"""Columns that are not scaled keep their values exactly when CSV becomes Parquet or .npy.

CSV to CSV copies them as text. For a typed output, pyarrow's own type inference would
lose values in silence: a 20-digit id becomes a double (two ids collide), "00123" becomes
123, "+5" becomes 5. So the numeric-looking columns that are not scaled are read as text,
and their type is decided once, from the first batch (the first block of the file, which
holds the sniffed head), and then kept, as a Parquet schema must be:

- int64 when every value is an integer written canonically (no sign but "-", no leading
  zeros) that fits int64: the text and the number then say the same thing;
- float64 when every value parses as a float and the integer-looking ones are canonical
  and within 2**53, where float64 still holds every integer: the value pandas would read;
- text otherwise (overflowing integers, leading zeros, a mix): the value as written.

A later row that breaks the decision is an error naming the column and the value, never a
silently different value. The CSV reader's default missing-value tokens ("", "NA", "null",
...) are nulls in int64 and float64 columns, as pyarrow reads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from normcli.errors import DataError
from normcli.io.batch import TableBatch
from normcli.io.reader_base import Reader

if TYPE_CHECKING:  # readers.open_reader imports this module: no import back at run time
    from normcli.io.readers import CsvReader

__all__ = ["ExactUnscaled", "numeric_looking_text"]

# the tokens pyarrow's CSV reader reads as null in a numeric column
NULL_TOKENS = pa.array(pacsv.ConvertOptions().null_values, pa.string())
_INTEGER_LOOKING = r"^[+-]?[0-9]+$"
_EXACT_FLOAT_INT = 2**53  # every integer up to this is a float64


def numeric_looking_text(reader: CsvReader, scaled: Iterable[str]) -> list[str]:
    """The columns not in `scaled` whose sniffed type is a number: those a typed output
    would store as a number, so those whose text must be checked."""
    scaled = set(scaled)
    return [
        name
        for name, t in reader.column_types.items()
        if name not in scaled and (pa.types.is_integer(t) or pa.types.is_floating(t))
    ]


class ExactUnscaled(Reader):
    """A CSV reader whose `columns` (read as text) come out as int64, float64 or text,
    decided from the first batch and checked in every later one."""

    def __init__(self, inner: CsvReader, columns: list[str]) -> None:
        self._inner = inner
        self._columns = columns
        inner.read_as_text(columns)
        self._kinds: dict[str, str] = {}
        self.label = inner.label
        self.format = inner.format
        self.names = inner.names
        self.numeric_names = inner.numeric_names
        self.layout = inner.layout
        self.total_bytes = inner.total_bytes
        self.empty_names = inner.empty_names
        self.input_types = inner.input_types
        self.notes = inner.notes
        self.dialect = inner.dialect

    @property
    def bytes_read(self) -> int:
        return self._inner.bytes_read

    @bytes_read.setter
    def bytes_read(self, value: int) -> None:  # Reader's default; the inner reader counts
        pass

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch]:
        for batch in self._inner.batches(columns):
            yield TableBatch(self._typed(batch.rb), batch.source)

    def close(self) -> None:
        self._inner.close()

    def _typed(self, rb: pa.RecordBatch) -> pa.RecordBatch:
        arrays, fields = list(rb.columns), list(rb.schema)
        for name in self._columns:
            i = rb.schema.get_field_index(name)
            if i < 0:
                continue
            text = rb.column(i)
            kind = self._kinds.get(name)
            if kind is None:
                kind = self._kinds[name] = _decide(text)
            if kind != "text":
                arrays[i] = self._convert(name, text, kind)
                fields[i] = pa.field(name, arrays[i].type)
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

    def _convert(self, name: str, text: pa.Array, kind: str) -> pa.Array:
        numbers, bad = _parse(text, kind)
        if bad is not None or numbers is None:
            shown = str(bad) if len(str(bad)) <= 40 else str(bad)[:40] + "..."
            raise DataError(
                f"{self.label}: column {name!r} is written as {kind}, as its first rows decided, but a later row "
                f"holds {shown!r}, which {kind} would not keep; write CSV output (-o FILE.csv), which copies "
                "the columns it does not scale as written"
            )
        return numbers


def _decide(text: pa.Array) -> str:
    """int64, float64 or text for a column, from its first batch."""
    if _without_null_tokens(text).null_count == len(text):
        return "text"
    for kind in ("int64", "float64"):
        numbers, bad = _parse(text, kind)
        if bad is None and numbers is not None:
            return kind
    return "text"


def _without_null_tokens(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.is_in(text, value_set=NULL_TOKENS), pa.scalar(None, pa.string()), text)


def _parse(text: pa.Array, kind: str) -> tuple[pa.Array | None, str | None]:
    """The column as `kind`, and the first value (nulls aside) that `kind` would not keep
    exactly, if any. Written to stay cheap on long columns: a cast (the missing-value tokens
    are looked for only when it fails), and prefix tests (a regular expression costs as much
    as the cast) to pick out the few values to look at closely."""
    to = pa.int64() if kind == "int64" else pa.float64()
    try:
        numbers = pc.cast(text, to)  # safe: text that is not a number, or an int beyond int64, fails
    except pa.ArrowInvalid:
        text = _without_null_tokens(text)
        try:
            numbers = pc.cast(text, to)
        except pa.ArrowInvalid:
            return None, _first_failing(text, to)
    if kind == "int64":  # the cast takes "007", "-0" and "0x10": not canonical
        zero_led = pc.and_(pc.starts_with(text, "0"), pc.greater(pc.binary_length(text), 1))
        return numbers, _first_true(text, pc.or_(zero_led, pc.starts_with(text, "-0")))
    # integers in a float column must be plain ("+5" and "007" are refused, "0.5" is not) ...
    suspect = pc.or_(
        pc.starts_with(text, "+"),
        pc.or_(
            pc.and_(pc.starts_with(text, "0"), pc.invert(pc.starts_with(text, "0."))),
            pc.and_(pc.starts_with(text, "-0"), pc.invert(pc.starts_with(text, "-0."))),
        ),
    )
    if pc.any(suspect).as_py():
        for value in pc.filter(text, suspect).to_pylist():  # few, unless the column is odd
            if re.fullmatch(_INTEGER_LOOKING, value) and value not in ("0", "-0"):
                return numbers, value
    # ... and small enough for float64 to hold exactly
    big = pc.greater_equal(pc.abs(numbers), _EXACT_FLOAT_INT)
    if pc.any(big).as_py():
        for value in pc.filter(text, big).to_pylist():  # few: only magnitudes of 2**53 and more
            if re.fullmatch(_INTEGER_LOOKING, value) and abs(int(value)) > _EXACT_FLOAT_INT:
                return numbers, value
    return numbers, None


def _first_true(values: pa.Array, mask: pa.Array) -> str | None:
    bad = pc.filter(values, pc.fill_null(mask, False))
    return bad[0].as_py() if len(bad) else None


def _first_failing(values: pa.Array, to: pa.DataType) -> str | None:
    """The first value that does not cast (found by halving: casts stay vectorised)."""
    lo, hi = 0, len(values)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pc.cast(values.slice(lo, mid - lo), to)
            lo = mid
        except pa.ArrowInvalid:
            hi = mid
    return values[lo].as_py()
