"""One batch of a transform or inverse, and the totals of many, merged in row order.

`apply_stream` (pipeline.py) runs `BatchStep` on each batch as it reads them; the polars
streaming query of io/lazycsv.py runs it from polars' threads, on batches that may finish out
of row order. Each call returns the batch to write and a `BatchPart` (its counters and
statistics); `Totals` merges the parts in row order, so the results do not depend on which
batch finished first, and are those of a sequential run over the same batches.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from normcli.errors import DataError
from normcli.methods import Counters
from normcli.rounding import round_significant
from normcli.scaler import INTEGER_DTYPES, ColumnScaler, Scaler
from normcli.sketch import Histogram, summarize
from normcli.stats import ColumnStats

__all__ = ["INTEGER_ATOL", "INTEGER_RTOL", "BatchPart", "BatchStep", "IntegerColumns", "Totals", "whole_numbers"]


@dataclass
class BatchPart:
    """What one batch added: its rows, counters, statistics before and after, histograms and
    the values that `--precision` rounded to inf."""

    rows: int
    counters: dict[str, Counters] = field(default_factory=dict)
    before: dict[str, ColumnStats] = field(default_factory=dict)
    after: dict[str, ColumnStats] = field(default_factory=dict)
    hists: dict[str, tuple[Histogram, Histogram]] = field(default_factory=dict)
    rounded_to_inf: dict[str, int] = field(default_factory=dict)


class BatchStep:
    """Transform (or inverse-transform) one batch: the scaled values, rounded to `precision`
    significant digits if given, in `dtype`; with `with_stats`, the statistics of each scaled
    column before and after (of the unrounded values)."""

    def __init__(
        self,
        scaler: Scaler,
        *,
        inverse: bool,
        dtype: np.dtype,
        precision: int | None,
        with_stats: bool,
        integers: IntegerColumns | None = None,
    ) -> None:
        self._scaler = scaler
        self._inverse = inverse
        self._dtype = dtype
        self._precision = precision
        self._with_stats = with_stats
        self._integers = integers

    def __call__(self, batch: Any, first_row: int) -> tuple[Any, BatchPart]:
        scaler, precision = self._scaler, self._precision
        part = BatchPart(batch.num_rows)
        x = {n: batch.numeric(n) for n in scaler.names}
        y = scaler.inverse_columns(x, part.counters) if self._inverse else scaler.transform_columns(x, part.counters)
        for name in scaler.names if self._with_stats else ():
            part.hists[name] = (Histogram(), Histogram())
            part.before[name] = summarize(x[name], part.hists[name][0])
            part.after[name] = summarize(y[name], part.hists[name][1])
        if precision is not None:
            rounded = {name: round_significant(values, precision) for name, values in y.items()}
            for name in y:  # 1.7e308 to one digit is 2e308: beyond float64
                inf = np.isinf(rounded[name])
                if inf.any():
                    part.rounded_to_inf[name] = int(np.count_nonzero(inf & np.isfinite(y[name])))
            y = rounded
        with np.errstate(over="ignore"):  # a float32 overflow is counted and reported by Totals
            out = batch.replace(y, self._dtype)
        if self._integers is not None and hasattr(out, "with_integers"):
            out = out.with_integers(self._integers.whole(y, first_row))
        return out, part


class Totals:
    """The parts of every batch merged in row order (`add` may be called from any thread, in
    any order: a part waits until the rows before it are in)."""

    def __init__(self, names: list[str], with_stats: bool) -> None:
        self.rows = 0
        self.counters: dict[str, Counters] = {}
        self.before: dict[str, ColumnStats] = {}
        self.after: dict[str, ColumnStats] = {}
        self.hists = {n: (Histogram(), Histogram()) for n in names} if with_stats else {}
        self.rounded_to_inf: dict[str, int] = {}
        self._waiting: dict[int, BatchPart] = {}
        self._lock = threading.Lock()

    def add(self, first_row: int, part: BatchPart) -> None:
        with self._lock:
            self._waiting[first_row] = part
            while self.rows in self._waiting:
                self._merge(self._waiting.pop(self.rows))

    @property
    def complete(self) -> bool:
        """Whether every part added has been merged (none waits for rows never added)."""
        return not self._waiting

    def _merge(self, part: BatchPart) -> None:
        self.rows += part.rows
        for name, c in part.counters.items():
            self.counters.setdefault(name, Counters()).add(c)
        for name, s in part.before.items():
            self.before[name] = self.before.get(name, ColumnStats()).merge(s)
        for name, s in part.after.items():
            self.after[name] = self.after.get(name, ColumnStats()).merge(s)
        for name, (b, a) in part.hists.items():  # exact in any order (sketch.Histogram)
            hb, ha = self.hists[name]
            self.hists[name] = (hb.merge(b), ha.merge(a))
        for name, count in part.rounded_to_inf.items():
            self.rounded_to_inf[name] = self.rounded_to_inf.get(name, 0) + count


# An integer column comes back from inverse(transform(x)) within this much of its magnitude
# (README, Numerics: 1e-12 relative), so a value this close to a whole number is that number;
# never more than INTEGER_ATOL, so that a fraction is not rounded away in a column of huge numbers.
INTEGER_RTOL = 1e-11
INTEGER_ATOL = 0.1


def whole_numbers(x: np.ndarray) -> bool:
    """Whether every value that is not NaN is a whole number."""
    with np.errstate(invalid="ignore"):
        return bool(np.all((x == np.rint(x)) | np.isnan(x)))


class IntegerColumns:
    """Which of the scaler's integer columns are written back as integers, batch by batch.

    Into text (CSV) each batch decides for itself; into a format whose types are fixed by
    the first batch (Parquet), a column written as integers cannot change type later, so a
    later batch that does not round back is an error rather than a rounded value."""

    def __init__(self, scaler: Scaler, fixed_types: bool) -> None:
        self._columns: dict[str, ColumnScaler] = {c.name: c for c in scaler.columns if c.dtype in INTEGER_DTYPES}
        self._fixed = fixed_types
        self._as_int: dict[str, bool] = {}  # the first batch's choice, for fixed types
        self._not_whole: dict[str, int] = {}

    def tolerance(self, col: ColumnScaler) -> float:
        s = col.stats
        magnitude = max(abs(s.min), abs(s.max)) if s.count and np.isfinite(s.min) and np.isfinite(s.max) else 1.0
        return min(INTEGER_RTOL * max(1.0, magnitude), INTEGER_ATOL)

    def whole(self, y: Mapping[str, np.ndarray], first_row: int) -> dict[str, np.ndarray]:
        """The columns of `y` to write as integers in this batch, rounded."""
        out = {}
        for name, col in self._columns.items():
            values = y[name]
            rounded = np.rint(values)
            with np.errstate(invalid="ignore"):
                near = (np.abs(values - rounded) <= self.tolerance(col)) & (np.abs(rounded) < 2.0**63)
            bad = ~near & ~np.isnan(values)
            whole = not bad.any()
            if self._fixed and self._as_int.setdefault(name, whole) and not whole:
                row = first_row + int(np.argmax(bad)) + 1
                raise DataError.about(
                    "column {column!r}: row {row:,} holds {value!r}, not within "
                    "{tolerance:.0e} of a whole number, but earlier rows were written as integers; "
                    "write CSV, or floats throughout with {dtype} float64",
                    column=name,
                    row=row,
                    value=float(values[bad][0]),
                    tolerance=self.tolerance(col),
                )
            if self._fixed and not self._as_int[name]:
                continue
            if whole:
                out[name] = rounded
            else:
                self._not_whole[name] = self._not_whole.get(name, 0) + int(np.count_nonzero(bad))
        return out

    def notes(self) -> list[str]:
        return [
            f"column {name!r} held integers, but {count:,} value(s) are not within "
            f"{self.tolerance(self._columns[name]):.0e} of a whole number, so they are written as floats"
            for name, count in self._not_whole.items()
        ] + [
            f"column {name!r} held integers, but its first rows do not round back to whole numbers, "
            "so it is written as floats"
            for name, as_int in self._as_int.items()
            if not as_int and name not in self._not_whole
        ]
