"""The streaming loops behind the commands: read batches, fit or apply, write batches.

This is the only place that joins the readers and writers (io) to the NumPy core
(scaler, stats). It knows nothing of options or terminals: the CLI and the Python API
both call it, and get plain results back to report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from normcli.errors import DataError, UsageError
from normcli.io.fastcsv import fast_reader
from normcli.io.readers import Reader
from normcli.io.threads import BackgroundWriter, prefetch
from normcli.io.writers import Writer
from normcli.methods import Counters
from normcli.rounding import round_significant
from normcli.scaler import FitResult, Scaler, ScalerFitter, plan_columns
from normcli.stats import ColumnStats

__all__ = [
    "ApplyResult",
    "ChannelStats",
    "LrnResult",
    "apply_stream",
    "fit_stream",
    "lrn_file",
    "stats_stream",
]

Progress = Callable[[str, int, int | None], None]  # (what, bytes done, bytes in all)


@dataclass
class ApplyResult:
    """What a transform or inverse did: statistics of each scaled column before and after,
    the per-column counters (clipped, invalid, out of range) and the number of rows."""

    before: dict[str, ColumnStats] = field(default_factory=dict)
    after: dict[str, ColumnStats] = field(default_factory=dict)
    counters: dict[str, Counters] = field(default_factory=dict)
    rows: int = 0
    warnings: list[str] = field(default_factory=list)


def fit_stream(
    reader: Reader,
    *,
    method: str | None,
    overrides: Mapping[str, str] | None = None,
    columns: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> FitResult:
    """Fit a scaler in one pass over the reader's batches."""
    plans = plan_columns(
        reader.names,
        reader.numeric_names,
        method=method,
        overrides=overrides,
        columns=columns,
        exclude=exclude,
        options=options,
        source=reader.label,
        empty=getattr(reader, "empty_names", ()),
    )
    fitter = ScalerFitter(plans, reader.names, reader.layout)
    rows = 0
    for batch in prefetch(reader.batches(columns=[p.name for p in plans])):
        fitter.update({p.name: batch.numeric(p.name) for p in plans})
        rows += batch.num_rows
        if progress:
            progress(reader.label, reader.bytes_read, reader.total_bytes)
    _require_rows(reader, rows)
    result = fitter.finish()
    result.rows = rows
    return result


def apply_stream(
    reader: Reader,
    writer: Writer,
    scaler: Scaler,
    *,
    inverse: bool = False,
    dtype: np.dtype = np.float64,
    precision: int | None = None,
    with_stats: bool = True,
    progress: Progress | None = None,
) -> ApplyResult:
    """Transform (or inverse-transform) every batch and hand it to the writer, rounded to
    `precision` significant digits if given. With `with_stats`, gather the statistics of
    each scaled column before and after (of the unrounded values); without, skip that work."""
    check_layout(scaler, reader)
    scaler.check_columns(reader.names, reader.label)
    not_numeric = [n for n in scaler.names if n not in reader.numeric_names]
    if not_numeric:
        raise DataError(f"{reader.label}: column {not_numeric[0]!r} is not numeric, so it cannot be scaled")
    result = ApplyResult()
    rounded_to_inf: dict[str, int] = {}
    dtype = np.dtype(dtype)
    reader = fast_reader(reader, writer)
    background = BackgroundWriter(writer)
    try:
        for batch in prefetch(reader.batches()):
            x = {n: batch.numeric(n) for n in scaler.names}
            y = scaler.inverse_columns(x, result.counters) if inverse else scaler.transform_columns(x, result.counters)
            for name in scaler.names if with_stats else ():
                result.before[name] = result.before.get(name, ColumnStats()).merge(ColumnStats.of(x[name]))
                result.after[name] = result.after.get(name, ColumnStats()).merge(ColumnStats.of(y[name]))
            if precision is not None:
                rounded = {name: round_significant(values, precision) for name, values in y.items()}
                for name in y:  # 1.7e308 to one digit is 2e308: beyond float64
                    inf = np.isinf(rounded[name])
                    if inf.any():
                        grown = int(np.count_nonzero(inf & np.isfinite(y[name])))
                        rounded_to_inf[name] = rounded_to_inf.get(name, 0) + grown
                y = rounded
            with np.errstate(over="ignore"):  # a float32 overflow is counted and reported below
                out = batch.replace(y, dtype)
            background.write(out)
            result.rows += batch.num_rows
            if progress:
                progress(reader.label, reader.bytes_read, reader.total_bytes)
        background.finish()
    except BaseException:
        background.abort()
        raise
    _require_rows(reader, result.rows)
    for name, count in rounded_to_inf.items():
        if count:
            result.warnings.append(f"column {name!r}: {count} value(s) rounded to {precision} digit(s) became inf")
    for name, after in result.after.items():
        new = after.infs - result.before[name].infs
        if new > 0:
            result.warnings.append(f"column {name!r}: {new} finite value(s) became inf, beyond the range of float64")
    if dtype != np.float64:
        for name, s in result.after.items():
            if s.count and max(abs(s.min), abs(s.max)) > float(np.finfo(dtype).max):
                result.warnings.append(f"column {name!r} has values beyond the range of {dtype}; they became inf")
    return result


def stats_stream(
    reader: Reader, columns: Iterable[str] | None = None, progress: Progress | None = None
) -> dict[str, ColumnStats]:
    """Statistics of the numeric columns (or the named ones), in one pass."""
    names = list(reader.numeric_names) if columns is None else list(dict.fromkeys(columns))
    for name in names:
        if name not in reader.names:
            raise UsageError(f"--columns names column {name!r}, which {reader.label} does not have")
        if name not in reader.numeric_names and name not in getattr(reader, "empty_names", ()):
            raise DataError(f"{reader.label}: column {name!r} is not numeric")
    if not names:
        raise DataError(f"{reader.label} has no numeric columns")
    stats = {n: ColumnStats() for n in names}
    rows = 0
    for batch in prefetch(reader.batches(columns=names)):
        for n in names:
            stats[n] = stats[n].merge(ColumnStats.of(batch.numeric(n)))
        rows += batch.num_rows
        if progress:
            progress(reader.label, reader.bytes_read, reader.total_bytes)
    _require_rows(reader, rows)
    return stats


def check_layout(scaler: Scaler, reader: Reader) -> None:
    """An array scaler applies to arrays of the rank and feature axis it was fitted on."""
    fitted, got = scaler.layout, reader.layout
    both_arrays = fitted.get("kind") == "array" and got.get("kind") == "array"
    if both_arrays and (fitted["ndim"], fitted["axis"]) != (got["ndim"], got["axis"]):
        raise DataError(
            f"the scaler was fitted on {fitted['ndim']}-D arrays with features on axis {fitted['axis']}, "
            f"but {reader.label} is {got['ndim']}-D with features on axis {got['axis']}"
        )


def _require_rows(reader: Reader, rows: int) -> None:
    if rows == 0:
        raise DataError(f"{reader.label} has no data rows")


# --- Local Response Normalization ----------------------------------------------------------

LRN_BLOCK_BYTES = 32 << 20  # input read per step; the kernel tiles each block for the cache


@dataclass
class ChannelStats:
    """Statistics of each channel of an array, with its count of exact zeros."""

    stats: list[ColumnStats]
    zeros: list[int]

    @classmethod
    def empty(cls, channels: int) -> ChannelStats:
        return cls([ColumnStats() for _ in range(channels)], [0] * channels)

    def add(self, block: np.ndarray, channel_axis: int) -> None:
        """Merge the statistics of one block (any slab that holds every channel)."""
        others = tuple(a for a in range(block.ndim) if a != channel_axis)
        zeros = np.count_nonzero(block == 0, axis=others)
        for c, s in enumerate(ColumnStats.per_channel(block, channel_axis)):
            self.stats[c] = self.stats[c].merge(s)
            self.zeros[c] += int(zeros[c])

    @property
    def overall(self) -> ColumnStats:
        total = ColumnStats()
        for s in self.stats:
            total = total.merge(s)
        return total

    @property
    def overall_zeros(self) -> int:
        return sum(self.zeros)


def most_changed(before: ChannelStats, after: ChannelStats, k: int = 5) -> list[int]:
    """The `k` channels whose root-mean-square changed by the largest factor."""

    def rms(s: ColumnStats) -> float:
        # hypot, not sqrt(mean**2 + std**2): a Python float's ** raises OverflowError past 1e154
        return math.hypot(s.mean, s.std()) if s.count else 0.0

    def change(c: int) -> float:
        a, b = rms(before.stats[c]), rms(after.stats[c])
        if a == 0 or b == 0 or not np.isfinite(a) or not np.isfinite(b):
            return 0.0 if a == b else np.inf
        return abs(float(np.log(b / a)))

    return sorted(range(len(before.stats)), key=change, reverse=True)[:k]


@dataclass
class LrnResult:
    """What `lrn_file` did: the output dtype, float16 overflows, and (when asked) the
    per-channel statistics before and after."""

    out_dtype: np.dtype
    overflow: int = 0
    before: ChannelStats | None = None
    after: ChannelStats | None = None


def lrn_file(
    x: np.ndarray,
    output: str,
    spec: Any,
    *,
    with_stats: bool,
    block_bytes: int = LRN_BLOCK_BYTES,
    progress: Progress | None = None,
) -> LrnResult:
    """Apply the LRN `spec` to `x` (usually a read-only memory map) and write the .npy
    `output` ('-': stdout), a block of samples at a time: read a block, normalise it,
    gather its statistics, append it. Peak memory is a few blocks whatever the size of
    the array; a file output replaces `output` only on success."""
    from normcli.io.arrays import iter_blocks
    from normcli.io.writers import open_npy_stream
    from normcli.lrn_kernel import count_overflow, lrn_apply, output_dtype

    result = LrnResult(output_dtype(x.dtype))
    channels = x.shape[spec.channel_axis]
    if with_stats:
        result.before, result.after = ChannelStats.empty(channels), ChannelStats.empty(channels)
    if 0 in spec.window_axes or x.ndim == 0 or x.shape[0] == 0:
        # windows run along axis 0 (channels first, no batch axis): one block, in memory
        blocks = iter([np.asarray(x)])
    else:
        blocks = iter_blocks(x, block_bytes)
    done = 0
    with open_npy_stream(output, x.shape, result.out_dtype) as write:
        for block in blocks:
            y = lrn_apply(block, spec)
            if result.out_dtype == np.float16:
                result.overflow += count_overflow(block, y)
            if with_stats:
                result.before.add(block, spec.channel_axis)
                result.after.add(y, spec.channel_axis)
            write(y)
            done += block.nbytes
            if progress:
                progress("lrn", done, x.nbytes)
    return result
