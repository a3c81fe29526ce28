"""A batch of rows with named columns, as the readers produce and the writers take them.

Two kinds: `TableBatch` wraps a pyarrow RecordBatch (CSV, TSV, Parquet), so columns that
are not scaled pass through untouched; `ArrayBatch` wraps a block of an N-D array whose
features lie along one axis (.npy). Both hand the core float64 NumPy arrays by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from normcli.errors import DataError, UsageError

__all__ = ["ArrayBatch", "TableBatch", "dtype_name", "is_numeric_type"]


def is_numeric_type(t: pa.DataType) -> bool:
    """Whether a column of this type can be scaled (read as float64)."""
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def dtype_name(t: pa.DataType) -> str | None:
    """The NumPy name of an integer or float Arrow type (int64, float32, ...); else None."""
    if pa.types.is_integer(t):
        return str(t)
    return {pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64"}.get(t)


# Arrow <-> NumPy for float columns straight through the buffers. pyarrow's own converters
# (Array.to_numpy, pa.array(ndarray)) import pandas on first use, which would slow the
# start of every command; the buffers are all a float column is.
_ARROW_FLOATS = {np.dtype(np.float64): pa.float64(), np.dtype(np.float32): pa.float32()}


def float_column_to_numpy(col: pa.Array) -> np.ndarray:
    """A float64 Arrow array as NumPy, nulls as NaN (zero-copy and read-only when no nulls)."""
    n = len(col)
    validity, data = col.buffers()[:2]
    values = np.frombuffer(data, dtype=np.float64, count=n, offset=col.offset * 8) if n else np.empty(0)
    if col.null_count == 0:
        return values
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=col.offset + n, bitorder="little")
    out = values.copy()
    out[bits[col.offset :] == 0] = np.nan
    return out


def numpy_to_float_column(values: np.ndarray, dtype: np.dtype, like: pa.Array | None = None) -> pa.Array:
    """A float Arrow array from NumPy values, NaN written as null. `like`, the column the
    values came from, lends its null bitmap when the NaNs are exactly its nulls (NaN in
    gives NaN out, so equal counts mean equal places): no bitmap to rebuild."""
    values = np.ascontiguousarray(values, dtype=dtype)
    nulls = int(np.count_nonzero(np.isnan(values)))
    if not nulls:
        validity = None
    elif like is not None and like.offset == 0 and like.null_count == nulls:
        validity = like.buffers()[0]
    else:
        validity = pa.py_buffer(np.packbits(~np.isnan(values), bitorder="little"))
    return pa.Array.from_buffers(_ARROW_FLOATS[values.dtype], len(values), [validity, pa.py_buffer(values)], nulls)


class TableBatch:
    """Rows of a table: a pyarrow RecordBatch."""

    def __init__(self, rb: pa.RecordBatch, source: str) -> None:
        self.rb = rb
        self.source = source

    @property
    def names(self) -> list[str]:
        return self.rb.schema.names

    @property
    def num_rows(self) -> int:
        return self.rb.num_rows

    def numeric(self, name: str) -> np.ndarray:
        """The column as float64, nulls as NaN (zero-copy where Arrow allows)."""
        col = self.rb.column(self.rb.schema.get_field_index(name))
        if not is_numeric_type(col.type):
            if pa.types.is_null(col.type):
                return np.full(len(col), np.nan)
            sample = next((v for v in col.to_pylist() if v is not None), None)
            raise DataError(f"{self.source}: column {name!r} is not numeric ({col.type}, e.g. {sample!r})")
        if not pa.types.is_float64(col.type):
            col = pc.cast(col, pa.float64(), safe=False)
        return float_column_to_numpy(col)

    def replace(self, new: Mapping[str, np.ndarray], dtype: np.dtype) -> TableBatch:
        """The batch with `new` columns (float, NaN written as null) in place of the old ones."""
        arrays = list(self.rb.columns)
        fields = list(self.rb.schema)
        for name, values in new.items():
            i = self.rb.schema.get_field_index(name)
            arrays[i] = numpy_to_float_column(values, dtype, like=self.rb.column(i))
            fields[i] = pa.field(name, arrays[i].type)
        return TableBatch(pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)), self.source)

    def with_integers(self, new: Mapping[str, np.ndarray]) -> TableBatch:
        """The batch with `new` columns (float64 holding whole numbers, NaN as null) as int64."""
        arrays = list(self.rb.columns)
        fields = list(self.rb.schema)
        for name, values in new.items():
            i = self.rb.schema.get_field_index(name)
            missing = np.isnan(values)
            ints = np.where(missing, 0, values).astype(np.int64)
            nulls = int(np.count_nonzero(missing))
            validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if nulls else None
            arrays[i] = pa.Array.from_buffers(pa.int64(), len(ints), [validity, pa.py_buffer(ints)], nulls)
            fields[i] = pa.field(name, pa.int64())
        return TableBatch(pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)), self.source)

    def to_record_batch(self) -> pa.RecordBatch:
        return self.rb

    def to_matrix(self, dtype: np.dtype) -> np.ndarray:
        """Rows x columns as one array, for .npy output; every column must be numeric."""
        out = np.empty((self.num_rows, len(self.names)), dtype=dtype)
        for j, name in enumerate(self.names):
            col = self.rb.column(j)
            if not is_numeric_type(col.type) and not pa.types.is_null(col.type):
                raise UsageError(
                    f"column {name!r} is not numeric, and .npy output holds numbers only; "
                    "choose .csv or .parquet output"
                )
            _check_exact_in(col, np.dtype(dtype), name, self.source)
            out[:, j] = self.numeric(name)
        return out


def _check_exact_in(col: pa.Array, dtype: np.dtype, name: str, source: str) -> None:
    """A column (not scaled, or scaled into `dtype` already) must keep its values in a
    `dtype` .npy: an int64 id beyond 2**53, a uint64, a decimal or a float64 written as
    float32 would change in silence, so that is an error naming a value."""
    target = _ARROW_FLOATS.get(dtype, pa.float64())
    t = col.type
    if pa.types.is_null(t) or (pa.types.is_floating(t) and t.bit_width <= target.bit_width):
        return
    there = pc.cast(col, target, safe=False)
    back = pc.cast(there, t, safe=False)
    same = pc.equal(back, col)
    if pa.types.is_floating(t):
        same = pc.or_(same, pc.and_(pc.is_nan(col), pc.is_nan(back)))
    bad = pc.filter(col, pc.invert(pc.fill_null(same, True)))
    if len(bad):
        raise DataError(
            f"{source}: column {name!r} holds {str(bad[0].as_py())!r}, which a {dtype} .npy cannot store exactly; "
            + ("use --dtype float64 or " if dtype != np.float64 else "")
            + "write .csv or .parquet output"
        )


class ArrayBatch:
    """A block of an N-D array; column j is the slice at index j of the feature axis.
    The block covers indices start..start+len along `batch_axis` of the whole array."""

    def __init__(self, block: np.ndarray, axis: int, source: str, start: int = 0, batch_axis: int = 0) -> None:
        self.block = block
        self.axis = axis
        self.source = source
        self.start = start
        self.batch_axis = batch_axis

    @property
    def names(self) -> list[str]:
        return [str(j) for j in range(self.block.shape[self.axis])]

    @property
    def num_rows(self) -> int:
        return self.block.shape[self.batch_axis]

    def _index(self, j: int) -> tuple:
        return (slice(None),) * self.axis + (j,)

    def numeric(self, name: str) -> np.ndarray:
        return np.asarray(self.block[self._index(int(name))], dtype=np.float64)

    def replace(self, new: Mapping[str, np.ndarray], dtype: np.dtype) -> ArrayBatch:
        out = self.block.astype(dtype, copy=True)
        for name, values in new.items():
            out[self._index(int(name))] = values
        return ArrayBatch(out, self.axis, self.source, self.start, self.batch_axis)

    def to_record_batch(self) -> pa.RecordBatch:
        if self.block.ndim != 2 or self.axis != 1:
            raise UsageError(
                f"{self.source} is a {self.block.ndim}-D array; only a 2-D (rows x features) array "
                "can be written as a table, so write .npy output"
            )
        dtype = self.block.dtype if self.block.dtype in _ARROW_FLOATS else np.dtype(np.float64)
        arrays = [numpy_to_float_column(self.block[:, j], dtype) for j in range(self.block.shape[1])]
        return pa.RecordBatch.from_arrays(arrays, names=self.names)

    def to_matrix(self, dtype: np.dtype) -> np.ndarray:
        return np.asarray(self.block, dtype=dtype)


# Batches handed to per-column NumPy work are grown to about this many bytes of float64 values:
# a 2 MB CSV block of a 300-column table is a few hundred rows, and the Python cost of each
# column's statistics would then outweigh the arithmetic (benchmarks/run.py --shapes, wide).
COALESCE_BYTES = 4 << 20


def coalesced(batches: Iterable[Any], columns: int) -> Iterator[Any]:
    """`batches` with consecutive TableBatches joined until they hold about COALESCE_BYTES of
    `columns` float64 columns (the same rows in the same order; other batches pass as they are)."""
    pending: list[TableBatch] = []
    rows = 0

    def joined() -> TableBatch:
        table = pa.Table.from_batches([b.rb for b in pending]).combine_chunks() if len(pending) > 1 else None
        if table is None or table.num_rows == 0:
            return pending[0]
        return TableBatch(table.to_batches()[0], pending[0].source)

    for batch in batches:
        if not isinstance(batch, TableBatch):
            if pending:
                yield joined()
                pending, rows = [], 0
            yield batch
            continue
        pending.append(batch)
        rows += batch.num_rows
        if rows * max(columns, 1) * 8 >= COALESCE_BYTES:
            yield joined()
            pending, rows = [], 0
    if pending:
        yield joined()
