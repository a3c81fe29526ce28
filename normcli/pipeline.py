"""The streaming loops behind the commands: read batches, fit or apply, write batches.

This is the only place that joins the readers and writers (io) to the NumPy core
(scaler, stats). It knows nothing of options or terminals: the CLI and the Python API
both call it, and get plain results back to report. The loop of `normcli lrn` is
lrn_pipeline.py (its names are re-exported here), those of `norm` and `bn-stats`
norm_pipeline.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from normcli.apply_steps import BatchStep, IntegerColumns, Totals, whole_numbers
from normcli.errors import DataError, UsageError
from normcli.io.batch import ArrayBatch, TableBatch, coalesced
from normcli.io.dialect import DialectOptions
from normcli.io.fastcsv import FrameBatch, fast_reader
from normcli.io.formats import detect_format
from normcli.io.formats import output_format as resolve_output_format
from normcli.io.inputs import is_stream
from normcli.io.lazycsv import lazy_csv
from normcli.io.lazyread import LazyFallback, lazy_reader
from normcli.io.readers import Reader, open_reader
from normcli.io.threads import BackgroundWriter, prefetch
from normcli.io.writers import Writer
from normcli.lrn_pipeline import LrnResult, lrn_file
from normcli.methods import Counters
from normcli.profile import NumericProfile, ValueProfile
from normcli.scaler import INTEGER_DTYPES, Scaler, with_profiles
from normcli.scaler_fit import FitResult, fit_batches, plan_columns
from normcli.sketch import Histogram, QuantileSketch, summarize
from normcli.stats import ColumnStats

__all__ = [
    "ApplyInput",
    "ApplyResult",
    "apply_formats",
    "LrnResult",
    "apply_stream",
    "drift_stream",
    "fit_stream",
    "lrn_file",
    "open_apply_input",
    "profile_stream",
    "stats_stream",
]

Progress = Callable[[str, int, int | None], None]  # (what, bytes done, bytes in all)
T = TypeVar("T")


@dataclass
class ApplyResult:
    """What a transform or inverse did: statistics of each scaled column before and after,
    the per-column counters (clipped, invalid, out of range) and the number of rows."""

    before: dict[str, ColumnStats] = field(default_factory=dict)
    after: dict[str, ColumnStats] = field(default_factory=dict)
    counters: dict[str, Counters] = field(default_factory=dict)
    rows: int = 0
    warnings: list[str] = field(default_factory=list)
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> before/after edges and counts
    # the mergeable histograms behind `histograms` (name -> before, after), so that the results
    # of a dataset's parts merge into the histograms of the whole (engines/local.py)
    sketches: dict[str, tuple[Histogram, Histogram]] = field(default_factory=dict)


def fit_stream(
    reader: Reader,
    *,
    method: str | None,
    overrides: Mapping[str, str] | None = None,
    columns: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    memory: int | None = None,
) -> FitResult:
    """Fit a scaler in one pass over the reader's batches (`memory`: bytes for exact quantiles
    and power fits, else the default budget)."""
    plans = plan_columns(
        reader.names,
        reader.numeric_names,
        method=method,
        overrides=overrides,
        columns=columns,
        exclude=exclude,
        options=options,
        source=reader.label,
        empty=reader.empty_names,
    )

    names = [p.name for p in plans]
    budget = {} if memory is None else {"memory": memory}

    def fit(source: Any, read: Iterable[Any]) -> FitResult:
        dtypes = {p.name: reader.input_types.get(p.name) for p in plans}
        hists = {p.name: Histogram() for p in plans}  # the fitted data's profile, kept for `check`
        # a CSV column of integers in the head may hold a fraction further down: checked on every batch
        integral = {name for name, dtype in dtypes.items() if dtype in INTEGER_DTYPES}

        def batches() -> Iterator[tuple[dict[str, np.ndarray], int, dict[str, ColumnStats]]]:
            for batch in read:
                x = {n: batch.numeric(n) for n in names}
                for name in [n for n in integral if not whole_numbers(x[n])]:
                    integral.discard(name)
                    dtypes[name] = "float64"
                # the histogram and the statistics in one go (sketch.summarize)
                stats = {name: summarize(x[name], h) for name, h in hists.items()}
                yield x, batch.num_rows, stats
                if progress:
                    progress(reader.label, source.bytes_read, reader.total_bytes)

        result = fit_batches(plans, reader.names, reader.layout, batches(), reader.label, dtypes=dtypes, **budget)
        return with_histograms(result, hists)

    return _read_columns(reader, names, fit)


def _read_columns(reader: Reader, names: list[str], work: Callable[[Any, Iterable[Any]], T]) -> T:
    """`work(source, batches)` over the batches of columns `names`: a plain CSV file's parsed
    by polars on every core while NumPy works (io/lazyread.py), unless polars would read the
    file otherwise or `work` fails, and then (or for any other input) the reader's, through a
    background thread, joined into batches of a few MB. `source.bytes_read` is the progress."""
    lazy = lazy_reader(reader, names)
    if lazy is not None:
        try:
            return work(lazy, lazy.batches(names))
        except (LazyFallback, DataError):
            pass  # read again by the general path: its values, and its error messages
    return work(reader, prefetch(coalesced(reader.batches(columns=names), len(names))))


def with_histograms(result: FitResult, hists: Mapping[str, Histogram]) -> FitResult:
    """The fit with the fitted data's histograms: as each column's profile (for `check`) and
    before/after in the report. A dataset engine passes the histograms of its parts merged."""
    result.scaler = with_profiles(result.scaler, hists)
    for col in result.scaler.columns:
        result.histograms[col.name] = {"before": hists[col.name].summary(), "after": _mapped(col, hists[col.name])}
    return result


@dataclass
class ApplyInput:
    """The input of a transform or inverse, opened, and what its output will be."""

    reader: Reader
    output_format: str
    output_shape: tuple[int, ...] | None  # the whole .npy to write, when an array becomes an array


def apply_formats(input_path: str, output: str, fmt: str | None, output_format: str | None) -> tuple[str, str]:
    """The formats of a transform's input and output: `fmt` (else the extension; a stream is
    CSV) and `output_format` (else the output's extension; stdout, /dev/null or out.txt take
    the input's)."""
    in_fmt = detect_format(input_path, fmt, default="csv" if is_stream(input_path) else None)
    return in_fmt, resolve_output_format(output, output_format, in_fmt)


def open_apply_input(
    input_path: str,
    scaler: Scaler,
    in_fmt: str,
    out_fmt: str,
    *,
    axis: int | None = None,
    dialect: DialectOptions | None = None,
) -> ApplyInput:
    """Open `input_path` (of format `in_fmt`, see `apply_formats`) for applying `scaler` into
    `out_fmt`. An .npy input is read along the feature axis the scaler was fitted on unless
    `axis` says otherwise; text columns pass through as written when the output is text;
    `dialect` is how to read a CSV/TSV input."""
    if in_fmt == "npy" and axis is None and scaler.layout.is_array:
        axis = scaler.layout.axis
    reader = open_reader(
        input_path,
        in_fmt,
        float_columns=scaler.names,
        text_passthrough=out_fmt in ("csv", "tsv"),
        axis=axis,
        dialect=dialect,
    )
    return ApplyInput(reader, out_fmt, reader.shape if out_fmt == "npy" else None)


def _mapped(col: Any, hist: Histogram) -> dict[str, Any] | None:
    """The fitted data's histogram after the transform, without a second pass: the same
    counts in the images of the bins (every method is monotone). The outer edges are the
    data's min and max, so they lie in the method's domain. None when an edge maps outside."""
    d = hist.summary()
    if not d["counts"]:
        return d
    edges = np.asarray(d["edges"])
    edges[0], edges[-1] = max(edges[0], col.stats.min), min(edges[-1], col.stats.max)
    with np.errstate(all="ignore"):
        mapped, _ = col.transform(edges)
    if not np.isfinite(mapped).all():
        return None
    counts = d["counts"]
    if mapped[-1] < mapped[0]:  # a decreasing method (reciprocal)
        mapped, counts = mapped[::-1], counts[::-1]
    return {**d, "edges": mapped.tolist(), "counts": list(counts)}


def apply_stream(
    reader: Reader,
    writer: Writer,
    scaler: Scaler,
    *,
    inverse: bool = False,
    dtype: npt.DTypeLike = np.float64,
    precision: int | None = None,
    with_stats: bool = True,
    progress: Progress | None = None,
    restore_integers: bool = False,
) -> ApplyResult:
    """Transform (or inverse-transform) every batch and hand it to the writer, rounded to
    `precision` significant digits if given. With `with_stats`, gather the statistics of
    each scaled column before and after (of the unrounded values); without, skip that work.
    With `restore_integers` (inverse), a column the scaler saw as integers is written as
    integers where its values round back within the round-trip tolerance."""
    check_layout(scaler, reader)
    scaler.check_columns(reader.names, reader.label)
    not_numeric = [n for n in scaler.names if n not in reader.numeric_names]
    if not_numeric:
        raise DataError(f"{reader.label}: column {not_numeric[0]!r} is not numeric, so it cannot be scaled")
    dtype = np.dtype(dtype)
    integers = IntegerColumns(scaler, writer.fixed_types) if inverse and restore_integers else None
    step = BatchStep(
        scaler, inverse=inverse, dtype=dtype, precision=precision, with_stats=with_stats, integers=integers
    )
    totals = None
    if integers is None:  # restoring integers works on Arrow batches: the general path
        totals = _apply_lazy(reader, writer, scaler, step, dtype, with_stats, progress)
        if totals is None:
            reader = fast_reader(reader, writer)
    if totals is None:
        totals = Totals(scaler.names, with_stats)
        background: BackgroundWriter[TableBatch | ArrayBatch] = BackgroundWriter(writer)
        try:
            for batch in prefetch(reader.batches()):
                out, part = step(batch, totals.rows)
                totals.add(totals.rows, part)
                background.write(out)
                if progress:
                    progress(reader.label, reader.bytes_read, reader.total_bytes)
            background.finish()
        except BaseException:
            background.abort()
            raise
    return _apply_result(reader, totals, integers, precision, dtype)


def _apply_lazy(
    reader: Reader,
    writer: Writer,
    scaler: Scaler,
    step: BatchStep,
    dtype: np.dtype,
    with_stats: bool,
    progress: Progress | None,
) -> Totals | None:
    """The transform as one polars streaming query (io/lazycsv.py) where the input is plain
    CSV and the output a CSV file; None where it is not, or where that query handed the file
    back to the chunked path (the output is then empty again)."""
    lazy = lazy_csv(reader, writer)
    if lazy is None:
        return None
    totals = Totals(scaler.names, with_stats)

    def each(batch: FrameBatch, first_row: int) -> FrameBatch:
        out, part = step(batch, first_row)
        totals.add(first_row, part)
        return cast(FrameBatch, out)

    def advance(rows: int) -> None:
        if progress:
            progress(lazy.label, lazy.bytes_done(rows), lazy.total_bytes)

    import polars as pl

    out_type = pl.Float32 if dtype == np.float32 else pl.Float64
    out_schema = {n: (out_type if n in scaler.names else t) for n, t in lazy.schema.items()}
    if not lazy.run(each, out_schema, advance, with_stats):
        return None
    if not totals.complete:  # a batch polars never handed over: a bug, never a silent gap
        raise RuntimeError(f"{lazy.label}: the streamed batches do not cover every row")
    return totals


def _apply_result(
    reader: Reader, totals: Totals, integers: IntegerColumns | None, precision: int | None, dtype: np.dtype
) -> ApplyResult:
    """The result of a transform from the totals of its batches, with its warnings."""
    _require_rows(reader, totals.rows)
    result = ApplyResult(before=totals.before, after=totals.after, counters=totals.counters, rows=totals.rows)
    result.warnings += integers.notes() if integers is not None else []
    result.histograms = {n: {"before": b.summary(), "after": a.summary()} for n, (b, a) in totals.hists.items()}
    result.sketches = totals.hists
    for name, count in totals.rounded_to_inf.items():
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
            raise UsageError.about(
                "{columns} names column {name!r}, which {source} does not have", name=name, source=reader.label
            )
        if name not in reader.numeric_names and name not in reader.empty_names:
            raise DataError(f"{reader.label}: column {name!r} is not numeric")
    if not names:
        raise DataError(f"{reader.label} has no numeric columns")
    stats = {n: ColumnStats() for n in names}
    rows = 0
    for batch in prefetch(coalesced(reader.batches(columns=names), len(names))):
        for n in names:
            stats[n] = stats[n].merge(ColumnStats.of(batch.numeric(n)))
        rows += batch.num_rows
        if progress:
            progress(reader.label, reader.bytes_read, reader.total_bytes)
    _require_rows(reader, rows)
    return stats


# memory for the exact quantiles of all columns together; past it, each column is sketched
EXACT_QUANTILE_BUDGET = 256 << 20


def profile_stream(
    reader: Reader,
    columns: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    progress: Progress | None = None,
) -> dict[str, NumericProfile | ValueProfile]:
    """`stats` in one pass: moments and quantiles of numeric columns, counts of distinct
    values of text, date and boolean ones. By default every column but those empty in the
    sniffed head; `columns` names them (in that order), `exclude` leaves some out."""
    from normcli.io.values import value_counts

    numeric = set(reader.numeric_names)
    empty = set(reader.empty_names)
    if columns is None:
        names = [n for n in reader.names if n not in empty or n in numeric]
    else:
        names = list(dict.fromkeys(columns))
    for name in names:
        if name not in reader.names:
            raise UsageError.about(
                "{columns} names column {name!r}, which {source} does not have", name=name, source=reader.label
            )
    drop = set(exclude)
    names = [n for n in names if n not in drop]
    if not names:
        raise DataError.about("{exclude} leaves no column of {source}", source=reader.label)
    n_numeric = sum(1 for n in names if n in numeric or n in empty)
    limit = EXACT_QUANTILE_BUDGET // 8 // max(n_numeric, 1)

    def profile(source: Any, read: Iterable[Any]) -> dict[str, NumericProfile | ValueProfile]:
        numbers: dict[str, NumericProfile] = {}
        values: dict[str, ValueProfile] = {}
        for name in names:
            if name in numeric or name in empty:
                numbers[name] = NumericProfile(sketch=QuantileSketch(exact_limit=limit))
        rows = 0
        for batch in read:
            for n in names:
                if n in numbers:
                    numbers[n].update(batch.numeric(n))
                    continue
                kind, distinct, counts, nulls = value_counts(batch, n)
                if n not in values:
                    values[n] = ValueProfile(kind, ordered=kind == "date")
                values[n].update(distinct, counts, nulls)
            rows += batch.num_rows
            if progress:
                progress(reader.label, source.bytes_read, reader.total_bytes)
        _require_rows(reader, rows)
        profiles: dict[str, NumericProfile | ValueProfile] = {**numbers, **values}
        return {n: profiles[n] for n in names}

    return _read_columns(reader, names, profile)


def drift_stream(reader: Reader, scaler: Scaler, progress: Progress | None = None) -> dict[str, Any]:
    """`check`: the scaled columns of the reader's batches counted on the fitted profiles, in
    one pass (name -> `DriftCounter`). Every column must have a profile (the caller checks)."""
    from normcli.drift import DriftCounter

    check_layout(scaler, reader)
    scaler.check_columns(reader.names, reader.label)
    not_numeric = [n for n in scaler.names if n not in reader.numeric_names]
    if not_numeric:
        raise DataError(f"{reader.label}: column {not_numeric[0]!r} is not numeric, so it cannot be checked")
    counters = {c.name: DriftCounter(c.profile, c.stats) for c in scaler.columns if c.profile is not None}
    rows = 0
    for batch in prefetch(reader.batches(columns=list(counters))):
        for name, counter in counters.items():
            counter.update(batch.numeric(name))
        rows += batch.num_rows
        if progress:
            progress(reader.label, reader.bytes_read, reader.total_bytes)
    _require_rows(reader, rows)
    return counters


def check_layout(scaler: Scaler, reader: Reader) -> None:
    """An array scaler applies to arrays of the rank, feature axis and feature count it was fitted on."""
    scaler.check_layout(reader.layout, reader.names, reader.label)


def _require_rows(reader: Reader, rows: int) -> None:
    if rows == 0:
        raise DataError(f"{reader.label} has no data rows")
