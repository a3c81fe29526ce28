"""The distinct values of a non-numeric column of a batch, counted by Arrow."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from normcli.io.batch import TableBatch

__all__ = ["value_kind", "value_counts"]


def value_kind(t: pa.DataType) -> str:
    """ "date" for dates, times and timestamps, "bool" for booleans, else "text"."""
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t):
        return "date"
    if pa.types.is_boolean(t):
        return "bool"
    return "text"


def value_counts(batch: Any, name: str) -> tuple[str, list[Any], list[int], int]:
    """(kind, distinct values, their counts, nulls) of column `name` of a table batch."""
    if isinstance(batch, TableBatch):
        col = batch.rb.column(batch.rb.schema.get_field_index(name))
    elif hasattr(batch, "frame"):  # a polars frame (io/lazyread.py): its text as Arrow strings
        col = batch.frame.get_column(name).to_arrow()
    else:
        raise TypeError("only table batches have non-numeric columns")
    kind = value_kind(col.type)
    nulls = col.null_count
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if kind == "text" and not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        try:
            col = pc.cast(col, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # nested types, binary: as Python shows them
            col = pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())
    vc = pc.value_counts(col.drop_null()) if nulls else pc.value_counts(col)
    values = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    if kind == "text" and "" in values:  # an empty cell is a missing value, as for pandas and csvstat
        i = values.index("")
        nulls += counts.pop(i)
        values.pop(i)
    return kind, values, counts, nulls
