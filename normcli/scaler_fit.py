"""Fitting a scaler: which columns get which method (`plan_columns`), and the one pass over
batches that gathers their statistics and sketches and yields the fitted scaler with its
before/after statistics (`ScalerFitter`, `fit_batches`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from normcli.column_summary import approximation_notes, summary_for
from normcli.errors import DataError, UsageError
from normcli.layout import Layout
from normcli.method_table import METHODS, get_method
from normcli.methods import Method
from normcli.methods_more import SummaryMethod
from normcli.scaler import DTYPES, ColumnScaler, Scaler, _as_float
from normcli.sketch import DEFAULT_K
from normcli.stats import ColumnStats

__all__ = ["ColumnPlan", "FitResult", "ScalerFitter", "fit_batches", "plan_columns"]

DEFAULT_MEMORY = 256 << 20  # bytes for the values robust, quantile and power methods keep exactly
BYTES_PER_VALUE = 16  # a kept value, and its copy when the values are joined to fit


@dataclass(frozen=True)
class ColumnPlan:
    """What to fit on one column: a method and its (validated) options."""

    name: str
    method: Method
    options: dict[str, Any]


def plan_columns(
    available: list[str],
    numeric: Iterable[str],
    *,
    method: str | None,
    overrides: Mapping[str, str] | None = None,
    columns: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    options: Mapping[str, Any] | None = None,
    source: str = "input",
    empty: Iterable[str] = (),
) -> list[ColumnPlan]:
    """Decide which columns to scale with which method, in input order.

    `method` applies to the selected columns (`columns`, else every numeric one, minus
    `exclude`); `overrides` maps a column to its own method. Unknown or non-numeric
    columns named by the user are errors, so a typo never silently scales nothing. `empty`
    columns had no value in the head the types were read from: named, they are fitted as
    numbers and the rows decide; otherwise they are left alone like text."""
    overrides = dict(overrides or {})
    options = dict(options or {})
    numeric = set(numeric)
    present = set(available)

    def check_named(names: Iterable[str], parameter: str) -> None:
        for name in names:
            if name not in present:
                raise UsageError.about(
                    "{" + parameter + "} names column {name!r}, which {source} does not have", name=name, source=source
                )

    columns = list(columns) if columns is not None else None
    exclude = list(exclude)
    check_named(columns or [], "columns")
    check_named(exclude, "exclude")
    check_named(overrides, "methods")
    both = [name for name in overrides if name in exclude]
    if both:
        raise UsageError.about(
            "column {name!r} is given a method ({method} {column}=...) and excluded ({exclude}); drop one",
            name=both[0],
            column=both[0],
        )
    if method is None and not overrides:
        raise UsageError.about("no method given; use {method} METHOD (or {method} COLUMN=METHOD)")
    selected = set()
    if method is not None:
        selected = set(columns) if columns is not None else set(numeric)
    selected |= set(overrides)
    selected -= set(exclude)
    named = set(columns or []) | set(overrides)
    for name in available:
        if name in selected and name not in numeric:
            if name in named and name in set(empty):
                continue  # empty in the head the type was read from: the rows decide
            if name in named:
                raise DataError(f"column {name!r} in {source} is not numeric, so it cannot be scaled")
            selected.discard(name)
    if not selected:
        if exclude and (set(columns) if columns is not None else numeric) - set(overrides) <= set(exclude):
            raise DataError.about("{exclude} leaves no column of {source} to scale", source=source)
        raise DataError(f"{source} has no numeric columns to scale")

    _check_options_belong(options, {overrides.get(name, method) for name in selected})
    checked: dict[str, dict[str, Any]] = {}
    plans = []
    for name in available:
        if name not in selected:
            continue
        impl = get_method(overrides.get(name, method))
        if impl.name not in checked:
            checked[impl.name] = impl.check_options(options)
        plans.append(ColumnPlan(name, impl, checked[impl.name]))
    return plans


def _check_options_belong(options: Mapping[str, Any], used: set[str | None]) -> None:
    """A method option given for a method no column uses is a mistake, not a no-op."""
    owners: dict[str, list[str]] = {}
    for m in METHODS.values():
        for key in m.option_names:
            owners.setdefault(key, []).append(m.name)
    for key, value in options.items():
        if key == "invalid" or value is None:
            continue
        names = owners.get(key)
        if names is None:
            raise UsageError(f"unknown method option {key!r}; known: {', '.join(sorted(owners))}, invalid")
        if value is False and get_method(names[0]).check_options({})[key] is False:
            continue  # an off switch left at its default
        if not set(names) & used:
            raise UsageError.about(
                "{" + key + "} is an option of {owner}, which no column uses", owner=" and ".join(names)
            )


@dataclass
class FitResult:
    """A fitted scaler with the before/after statistics of the data it was fitted on."""

    scaler: Scaler
    before: dict[str, ColumnStats]
    after: dict[str, ColumnStats]
    warnings: list[str] = field(default_factory=list)
    rows: int | None = None
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> before/after edges and counts


@dataclass
class _Accumulator:
    plan: ColumnPlan
    x: ColumnStats = field(default_factory=ColumnStats)
    g: ColumnStats = field(default_factory=ColumnStats)
    invalid: int = 0
    first_invalid: float | None = None
    summary: Any = None  # a QuantileSketch or ValueSample, for the methods fitted on more than moments


class ScalerFitter:
    """Fits a scaler from batches: `update` with each batch, then `finish`.

    One pass: it gathers the statistics of x and of the method's base function g(x);
    the fitted values come from those, and the "after" statistics follow from the affine
    part of the method, so no second pass over the data is needed."""

    def __init__(
        self,
        plans: Iterable[ColumnPlan],
        input_columns: Iterable[str],
        layout: Layout | None = None,
        memory: int = DEFAULT_MEMORY,
    ) -> None:
        self._acc = {p.name: _Accumulator(p) for p in plans}
        self._input_columns = list(input_columns)
        self._layout = layout
        # the budget is shared by the columns that keep values; each keeps them exactly up to its share
        keepers = sum(1 for a in self._acc.values() if a.plan.method.needs != "moments")
        limit = max(DEFAULT_K, memory // BYTES_PER_VALUE // max(keepers, 1))
        for acc in self._acc.values():
            acc.summary = summary_for(acc.plan.method, limit)

    def update(self, batch: Mapping[str, np.ndarray], stats: Mapping[str, ColumnStats] | None = None) -> None:
        """Add a batch of each column (`stats`: their ColumnStats.of, where the caller has them)."""
        for name, acc in self._acc.items():
            x = _as_float(batch[name])
            acc.x = acc.x.merge(stats[name] if stats is not None and name in stats else ColumnStats.of(x))
            method, options = acc.plan.method, acc.plan.options
            if not method.nonlinear and acc.summary is None:
                continue
            valid, bad = method.valid_values(x, options)
            if bad:
                if acc.first_invalid is None:
                    acc.first_invalid = float(x[method.invalid_mask(x, options)].flat[0])
                acc.invalid += bad
            if acc.summary is not None:
                acc.summary.update(valid)
                continue
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                acc.g = acc.g.merge(ColumnStats.of(method.g(valid, options)))

    def merge(self, other: ScalerFitter) -> None:
        """Add the statistics `other` gathered (on a later part of the same data: merging in
        part order keeps the first invalid value the first one of the whole)."""
        for name, acc in self._acc.items():
            theirs = other._acc[name]
            acc.x = acc.x.merge(theirs.x)
            acc.g = acc.g.merge(theirs.g)
            if acc.first_invalid is None:
                acc.first_invalid = theirs.first_invalid
            acc.invalid += theirs.invalid
            if acc.summary is not None:
                acc.summary = acc.summary.merge(theirs.summary)

    def finish(self, dtypes: Mapping[str, str] | None = None) -> FitResult:
        """The fitted scaler; `dtypes` are the input types to record for its columns."""
        columns, before, after, warnings = [], {}, {}, []
        dtypes = dtypes or {}
        outside = [
            (name, acc) for name, acc in self._acc.items() if acc.invalid and acc.plan.options["invalid"] == "error"
        ]
        if outside:
            raise _domain_error(outside)
        for name, acc in self._acc.items():
            method, options = acc.plan.method, acc.plan.options
            if acc.x.infs and method.finite_only:
                raise DataError.about(
                    "column {column!r} has {count} infinite value(s); {method_name} fits finite values only "
                    "(replace or drop them, or use {method} atan)",
                    column=name,
                    count=acc.x.infs,
                    method_name=method.name,
                )
            if isinstance(method, SummaryMethod):
                fitted = method.fit_summary(name, acc.x, acc.summary, options)
                col = ColumnScaler(
                    name, method.name, options, fitted, acc.x, method.record(acc.summary), dtypes.get(name)
                )
                after[name] = method.after_stats(options, fitted, acc.x, acc.summary)
                warnings.extend(approximation_notes(name, method, acc.summary))
            else:
                g_stats = acc.g if method.nonlinear else acc.x
                fitted = method.fit(name, acc.x, g_stats, options)
                col = ColumnScaler(name, method.name, options, fitted, acc.x, dtype=dtypes.get(name))
                after[name] = method.affine(options, fitted).stats(g_stats)
            columns.append(col)
            before[name] = acc.x
            warning = method.constant_warning(name, options, fitted)
            if warning:
                warnings.append(warning)
            if (method.nonlinear or acc.summary is not None) and acc.invalid:
                warnings.append(
                    f"column {name!r}: {acc.invalid} value(s) outside the domain of {method.name} became NaN"
                )
        return FitResult(Scaler(columns, self._input_columns, self._layout), before, after, warnings)


def fit_batches(
    plans: Iterable[ColumnPlan],
    input_columns: Iterable[str],
    layout: Layout | None,
    batches: Iterable[tuple[Mapping[str, np.ndarray], int] | tuple[Mapping[str, np.ndarray], int, Mapping[str, Any]]],
    source: str,
    memory: int = DEFAULT_MEMORY,
    dtypes: Mapping[str, str | None] | None = None,
) -> FitResult:
    """Fit a scaler in one pass over `batches`: each the planned columns of some rows, and
    how many rows that is (and, optionally, the columns' ColumnStats.of, where the caller has
    them). A file streamed by `pipeline.fit_stream` and data held in memory by `api.fit` (one
    batch) are fitted by this same loop. `dtypes` are the input types to record for the
    columns, read after the last batch (a stream learns them as it goes)."""
    fitter = ScalerFitter(plans, input_columns, layout, memory)
    rows = 0
    for item in batches:
        fitter.update(item[0], item[2] if len(item) > 2 else None)
        rows += item[1]
    if rows == 0:
        raise DataError(f"{source} has no data rows")
    result = fitter.finish({n: d for n, d in (dtypes or {}).items() if d in DTYPES})
    result.rows = rows
    return result


def _domain_error(outside: list[tuple[str, _Accumulator]]) -> DataError:
    """One line naming every column with values outside its method's domain: columns that
    share a message are listed together, each with its count and an example. The methods'
    templates keep their parameter fields (`{offset}`); each part's values get their own
    field names, since the parts are joined into one template."""
    groups: dict[tuple[str, str], list[tuple[str, _Accumulator, dict[str, Any]]]] = {}
    for name, acc in outside:
        template, values = acc.plan.method.invalid_message(name, acc.plan.options)
        shared = {k: v for k, v in values.items() if k != "column"}
        groups.setdefault((template, repr(sorted(shared.items()))), []).append((name, acc, shared))
    parts, fields = [], {}
    for i, ((template, _), items) in enumerate(groups.items()):
        shared = items[0][2]
        if len(items) == 1:
            name, acc, _ = items[0]
            part = template + ": {count} such value(s), e.g. {first!r}"
            values = {**shared, "column": name, "count": acc.invalid, "first": acc.first_invalid}
        else:
            listed = ", ".join(f"{n!r} ({a.invalid} value(s), e.g. {a.first_invalid!r})" for n, a, _ in items)
            part = template.replace("column {column!r} has", "columns {listed} have")
            if part == template:
                part = template.replace("{column!r}", "{listed}")
            values = {**shared, "listed": listed}
        own = re.compile(r"\{(" + "|".join(map(re.escape, values)) + r")(?=[!:}])")
        parts.append(own.sub("{\\g<1>_" + str(i), part))
        fields.update({f"{k}_{i}": v for k, v in values.items()})
    return DataError.about("; ".join(parts), **fields)
