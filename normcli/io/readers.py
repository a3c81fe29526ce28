"""Readers: a file (or stdin) becomes a stream of batches with named columns.

Every reader streams: CSV/TSV through pyarrow's incremental CSV reader, Parquet a record
batch at a time, .npy as slices of a memory map (or of stdin). Memory is bounded by the
batch size, never by the file size.

CSV/TSV is read by `csv_reader.CsvReader`, Parquet by `parquet_reader.ParquetReader`, .npy by
`npy_reader.ArrayReader`; `open_reader` picks one from the format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from normcli.errors import DataError, UsageError
from normcli.io.csv_reader import CsvReader
from normcli.io.dialect import DialectOptions
from normcli.io.formats import STDIO, compression_suffix, detect_format, label
from normcli.io.inputs import is_stream
from normcli.io.parquet_reader import ParquetReader
from normcli.io.reader_base import Reader, TableReader, _is_url

__all__ = ["CsvReader", "ParquetReader", "Reader", "TableReader", "open_reader"]


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
    if path != STDIO and not _is_url(path):  # a URL is read through fsspec (normcli/io/fs.py)
        _check_readable(path)
    fmt = detect_format(path, fmt, default="csv" if is_stream(path) else None)
    codec = compression_suffix(path)[1]
    if codec and fmt in ("parquet", "npy"):
        raise UsageError(f"{path}: compressed {fmt} input is not supported; decompress it first")
    given = (dialect or DialectOptions()).given()
    if given and fmt in ("parquet", "npy"):
        raise UsageError(f"{label(path)} is {fmt}; CSV options ({', '.join(sorted(given))}) apply to CSV/TSV only")
    if fmt == "npy":
        from normcli.io.npy_reader import ArrayReader

        return ArrayReader(path, axis=axis)
    if axis is not None:
        raise UsageError(f"--axis applies to .npy input only, and {label(path)} is {fmt}")
    if fmt == "parquet":
        return ParquetReader(path)
    reader = CsvReader(path, "\t" if fmt == "tsv" else ",", fmt, float_columns, text_passthrough, dialect)
    if float_columns is not None and not text_passthrough:
        # the other columns go to a typed output (Parquet, .npy): keep their values exactly
        from normcli.io.unscaled import ExactUnscaled, numeric_looking_text

        return ExactUnscaled(reader, numeric_looking_text(reader, float_columns))
    return reader


def _check_readable(path: str) -> None:
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory, not a data file")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied")
