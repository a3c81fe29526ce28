"""A fitted scaler: which columns, which method, what was fitted; and its JSON file format.

The scaler works on batches given as mappings of column name -> NumPy array, so the same
object serves a DataFrame held in memory and a file streamed a batch at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from normcli._version import __version__
from normcli.errors import DataError, UsageError
from normcli.methods import METHODS, Counters, Method, get_method
from normcli.sketch import Histogram
from normcli.stats import ColumnStats

__all__ = ["ColumnPlan", "ColumnScaler", "FitResult", "Scaler", "ScalerFitter", "plan_columns", "with_profiles"]

FORMAT = "normcli-scaler"
VERSION = 1


@dataclass(frozen=True)
class ColumnScaler:
    """One scaled column: its method, the method's options, the fitted values, and the
    statistics of the data it was fitted on."""

    name: str
    method: str
    options: dict[str, Any]
    fitted: dict[str, float]
    stats: ColumnStats
    profile: Histogram | None = None  # the fitted data's histogram (what `check` compares with); old files: None

    @property
    def impl(self) -> Method:
        return get_method(self.method)

    def transform(self, x: np.ndarray) -> tuple[np.ndarray, Counters]:
        return self.impl.transform(_as_float(x), self.options, self.fitted, self.name)

    def inverse(self, y: np.ndarray) -> tuple[np.ndarray, Counters]:
        return self.impl.inverse(_as_float(y), self.options, self.fitted, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "options": self.options,
            "fitted": self.fitted,
            "stats": self.stats.summary(),
            **({"profile": self.profile.to_dict()} if self.profile is not None else {}),
        }


def _as_float(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


class Scaler:
    """A fitted scaler. `layout` records how the input was shaped: {"kind": "table"}, or
    {"kind": "array", "axis": K, "ndim": N} for an N-D array with features on axis K."""

    def __init__(
        self,
        columns: Iterable[ColumnScaler],
        input_columns: Iterable[str],
        layout: Mapping[str, Any] | None = None,
    ) -> None:
        self.columns: list[ColumnScaler] = list(columns)
        self.input_columns: list[str] = list(input_columns)
        self.layout: dict[str, Any] = dict(layout or {"kind": "table"})
        self._by_name = {c.name: c for c in self.columns}

    @property
    def names(self) -> list[str]:
        """The scaled columns, in input order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnScaler:
        return self._by_name[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scaler) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.name}={c.method}" for c in self.columns)
        return f"<Scaler {len(self.columns)} column(s): {parts}>"

    def check_columns(self, available: Iterable[str], source: str = "input") -> None:
        """Every scaled column must be present; raise a DataError naming the missing ones."""
        have = set(available)
        missing = [n for n in self.names if n not in have]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DataError(f"{source} lacks column(s) {shown} that the scaler needs")

    def check_layout(self, layout: Mapping[str, Any], names: list[str], source: str = "input") -> None:
        """An array scaler applies only to arrays of its rank, feature axis and feature count:
        a wider array would keep its extra features unscaled, so that is refused too."""
        fitted = self.layout
        if fitted.get("kind") != "array" or layout.get("kind") != "array":
            return
        if (fitted["ndim"], fitted["axis"]) != (layout["ndim"], layout["axis"]):
            raise DataError(
                f"the scaler was fitted on {fitted['ndim']}-D arrays with features on axis {fitted['axis']}, "
                f"but {source} is {layout['ndim']}-D with features on axis {layout['axis']}"
            )
        if len(names) != len(self.input_columns):
            raise DataError(
                f"the scaler was fitted on arrays of {len(self.input_columns)} features along axis {fitted['axis']}, "
                f"but {source} has {len(names)}; fit a scaler on arrays of this shape"
            )

    def transform_columns(
        self, batch: Mapping[str, np.ndarray], counters: dict[str, Counters] | None = None
    ) -> dict[str, np.ndarray]:
        """Scaled arrays (float64) for the scaler's columns in `batch`."""
        return self._apply(batch, counters, inverse=False)

    def inverse_columns(
        self, batch: Mapping[str, np.ndarray], counters: dict[str, Counters] | None = None
    ) -> dict[str, np.ndarray]:
        """The original values back, for the scaler's columns in `batch`."""
        return self._apply(batch, counters, inverse=True)

    def _apply(
        self, batch: Mapping[str, np.ndarray], counters: dict[str, Counters] | None, inverse: bool
    ) -> dict[str, np.ndarray]:
        self.check_columns(batch.keys())
        out = {}
        errors = []  # every column with values outside its method's domain, not only the first
        for col in self.columns:
            try:
                y, c = col.inverse(batch[col.name]) if inverse else col.transform(batch[col.name])
            except DataError as exc:
                errors.append(str(exc))
                continue
            out[col.name] = y
            if counters is not None:
                counters.setdefault(col.name, Counters()).add(c)
        if errors:
            raise DataError("; ".join(errors))
        return out

    # --- the file format ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "normcli_version": __version__,
            "layout": self.layout,
            "input_columns": self.input_columns,
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_json(self) -> str:
        """Strict JSON (no NaN/Infinity); floats are written with repr, so they round-trip."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "scaler file") -> Scaler:
        """Parse and validate a scaler file; any fault is a DataError naming `source`."""
        try:
            data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
        except (ValueError, UnicodeDecodeError) as exc:
            if "integer string conversion" in str(exc):  # Python's limit, not the user's business
                raise DataError(
                    f"{source} is not a normcli scaler file (it holds an integer of over 4300 digits)"
                ) from None
            raise DataError(f"{source} is not a normcli scaler file (not valid JSON: {_first_line(exc)})") from None
        except RecursionError:  # thousands of nested brackets: no scaler looks like that
            raise DataError(f"{source} is not a normcli scaler file (nested too deeply)") from None
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "scaler file") -> Scaler:
        try:
            return _parse_scaler(data, source)
        except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as exc:
            # the checks above name the usual faults; this catches the shapes they did not foresee
            raise DataError(f"{source} is malformed ({type(exc).__name__}: {_first_line(exc)})") from None


def with_profiles(scaler: Scaler, profiles: Mapping[str, Histogram]) -> Scaler:
    """The scaler with each column's profile (the fitted data's histogram) set, for `check`."""
    columns = [replace(c, profile=profiles.get(c.name, c.profile)) for c in scaler.columns]
    return Scaler(columns, scaler.input_columns, scaler.layout)


# --- validation of scaler files ------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice: which of two "std" values a reader keeps
    differs between tools, so a file with both is ambiguous, not a scaler."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class _Checker:
    """Small helpers that turn a malformed scaler file into one clear DataError."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> DataError:
        return DataError(f"{self.source}: {where} {what}")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, not {type(value).__name__}")
        return value

    def key(self, d: dict[str, Any], key: str, where: str) -> Any:
        if key not in d:
            raise self.fail(where, f"lacks {key!r}")
        return d[key]

    def number(self, value: Any, where: str, allow_none: bool = False) -> float | None:
        if value is None and allow_none:
            return None
        try:
            number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
        except OverflowError:  # an integer beyond float64
            number = math.inf
        if not math.isfinite(number):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
            raise self.fail(where, f"must be a finite number, not {shown}")
        return number

    def count(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
            raise self.fail(where, f"must be a whole number >= 0, not {shown}")
        return value

    def names(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, "must be a list of column names")
        if len(set(value)) != len(value):
            raise self.fail(where, "names a column twice")
        return value


def _parse_scaler(data: Any, source: str) -> Scaler:
    ck = _Checker(source)
    data = ck.obj(data, "the top level")
    fmt = data.get("format")
    if fmt != FORMAT:
        raise DataError(f"{source} is not a normcli scaler file (format {fmt!r}, expected {FORMAT!r})")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
        raise DataError(
            f"{source} has scaler format version {version!r}; this normcli ({__version__}) reads version {VERSION}"
            " (upgrade normcli or refit the scaler)"
        )
    layout = _parse_layout(ck, data.get("layout", {"kind": "table"}))
    input_columns = ck.names(ck.key(data, "input_columns", "the top level"), "'input_columns'")
    raw_columns = ck.key(data, "columns", "the top level")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise ck.fail("'columns'", "must be a non-empty list")
    columns = [_parse_column(ck, c, i) for i, c in enumerate(raw_columns)]
    ck.names([c.name for c in columns], "'columns'")
    unknown = [c.name for c in columns if c.name not in input_columns]
    if unknown:
        raise ck.fail(f"column {unknown[0]!r}", "is not among 'input_columns'")
    if layout["kind"] == "array" and input_columns != [str(j) for j in range(len(input_columns))]:
        raise ck.fail("'input_columns'", "of an array scaler must be the feature indices '0', '1', ... in order")
    return Scaler(columns, input_columns, layout)


def _parse_layout(ck: _Checker, layout: Any) -> dict[str, Any]:
    layout = ck.obj(layout, "'layout'")
    kind = layout.get("kind")
    if kind == "table":
        return {"kind": "table"}
    if kind == "array":
        ndim = ck.count(ck.key(layout, "ndim", "'layout'"), "'layout.ndim'")
        axis = ck.count(ck.key(layout, "axis", "'layout'"), "'layout.axis'")
        if not 1 <= ndim <= 32 or axis >= ndim:
            raise ck.fail("'layout'", f"has axis {axis} outside an array of {ndim} dimensions")
        return {"kind": "array", "ndim": ndim, "axis": axis}
    raise ck.fail("'layout.kind'", f"must be 'table' or 'array', not {kind!r}")


def _parse_column(ck: _Checker, raw: Any, index: int) -> ColumnScaler:
    where = f"columns[{index}]"
    raw = ck.obj(raw, where)
    name = ck.key(raw, "name", where)
    if not isinstance(name, str):
        raise ck.fail(f"{where}.name", f"must be a string, not {name!r}")
    where = f"column {name!r}"
    method_name = ck.key(raw, "method", where)
    try:
        method = get_method(method_name)
    except UsageError as exc:
        raise ck.fail(where, str(exc)) from None
    options = ck.obj(raw.get("options", {}), f"{where} options")
    try:
        checked = method.check_options(options)
    except UsageError as exc:
        raise ck.fail(f"{where} options", f"are invalid: {exc}") from None
    if set(options) - set(checked):
        raise ck.fail(f"{where} options", f"have unknown key(s) {sorted(set(options) - set(checked))}")
    fitted_raw = ck.obj(raw.get("fitted", {}), f"{where} fitted")
    fitted = {k: ck.number(v, f"{where} fitted {k!r}") for k, v in fitted_raw.items()}
    stats_raw = ck.obj(ck.key(raw, "stats", where), f"{where} stats")
    stats = ColumnStats.from_summary(
        {
            "count": ck.count(ck.key(stats_raw, "count", f"{where} stats"), f"{where} stats count"),
            "nulls": ck.count(stats_raw.get("nulls", 0), f"{where} stats nulls"),
            "infs": ck.count(stats_raw.get("infs", 0), f"{where} stats infs"),
            **{k: ck.number(stats_raw.get(k), f"{where} stats {k}", True) for k in ("mean", "std", "min", "max")},
        }
    )
    _check_fitted(ck, where, method, checked, fitted)
    profile = None
    if "profile" in raw:  # optional: files written before normcli kept profiles have none
        try:
            profile = Histogram.from_dict(ck.obj(raw["profile"], f"{where} profile"))
        except (KeyError, ValueError) as exc:
            raise ck.fail(f"{where} profile", f"is not a histogram ({_first_line(exc)})") from None
    return ColumnScaler(name, method.name, checked, fitted, stats, profile)


# The fitted values each method needs; their constraints are the method's, as when fitting.
def _check_fitted(ck: _Checker, where: str, method: Method, options: dict[str, Any], fitted: dict[str, float]) -> None:
    needed = {"minmax": ["min", "max"], "zscore": ["mean", "std"], "log": ["max"] if options.get("normalize") else []}
    expected = needed.get(method.name, [])
    if sorted(fitted) != sorted(expected):
        raise ck.fail(f"{where} fitted", f"must have exactly {expected or 'no values'}, not {sorted(fitted)}")
    problem = method.fitted_problem(options, fitted)
    if problem is not None:
        raise ck.fail(where, f"{problem[0]}; refit the scaler")


# --- fitting --------------------------------------------------------------------------------


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

    def check_named(names: Iterable[str], what: str) -> None:
        for name in names:
            if name not in present:
                raise UsageError(f"{what} names column {name!r}, which {source} does not have")

    columns = list(columns) if columns is not None else None
    exclude = list(exclude)
    check_named(columns or [], "--columns")
    check_named(exclude, "--exclude")
    check_named(overrides, "--method")
    both = [name for name in overrides if name in exclude]
    if both:
        raise UsageError(f"column {both[0]!r} is given a method (-m {both[0]}=...) and excluded (--exclude); drop one")
    if method is None and not overrides:
        raise UsageError("no method given; use -m METHOD (or -m COLUMN=METHOD)")
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
            raise DataError(f"--exclude leaves no column of {source} to scale")
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
    owners = {key: m for m in METHODS.values() for key in m.flags}
    for key, value in options.items():
        if key == "invalid" or value is None or value is False:
            continue
        owner = owners.get(key)
        if owner is None:
            raise UsageError(f"unknown method option {key!r}; known: {', '.join(sorted(owners))}, invalid")
        if owner.name not in used:
            raise UsageError(f"{owner.flags[key]} is an option of {owner.name}, which no column uses")


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


class ScalerFitter:
    """Fits a scaler from batches: `update` with each batch, then `finish`.

    One pass: it gathers the statistics of x and of the method's base function g(x);
    the fitted values come from those, and the "after" statistics follow from the affine
    part of the method, so no second pass over the data is needed."""

    def __init__(
        self, plans: Iterable[ColumnPlan], input_columns: Iterable[str], layout: Mapping[str, Any] | None = None
    ) -> None:
        self._acc = {p.name: _Accumulator(p) for p in plans}
        self._input_columns = list(input_columns)
        self._layout = layout

    def update(self, batch: Mapping[str, np.ndarray]) -> None:
        for name, acc in self._acc.items():
            x = _as_float(batch[name])
            acc.x = acc.x.merge(ColumnStats.of(x))
            method, options = acc.plan.method, acc.plan.options
            if not method.nonlinear:
                continue
            valid, bad = method.valid_values(x, options)
            if bad:
                if acc.first_invalid is None:
                    acc.first_invalid = float(x[method.invalid_mask(x, options)].flat[0])
                acc.invalid += bad
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                acc.g = acc.g.merge(ColumnStats.of(method.g(valid, options)))

    def finish(self) -> FitResult:
        columns, before, after, warnings = [], {}, {}, []
        outside = [
            (name, acc) for name, acc in self._acc.items() if acc.invalid and acc.plan.options["invalid"] == "error"
        ]
        if outside:
            raise DataError(_domain_error(outside))
        for name, acc in self._acc.items():
            method, options = acc.plan.method, acc.plan.options
            if acc.x.infs and method.name in ("minmax", "zscore"):
                raise DataError(
                    f"column {name!r} has {acc.x.infs} infinite value(s); {method.name} fits finite values only "
                    "(replace or drop them, or use -m atan)"
                )
            g_stats = acc.g if method.nonlinear else acc.x
            fitted = method.fit(name, acc.x, g_stats, options)
            col = ColumnScaler(name, method.name, options, fitted, acc.x)
            columns.append(col)
            before[name] = acc.x
            after[name] = method.affine(options, fitted).stats(g_stats)
            warning = method.constant_warning(name, options, fitted)
            if warning:
                warnings.append(warning)
            if method.nonlinear and acc.invalid:
                warnings.append(
                    f"column {name!r}: {acc.invalid} value(s) outside the domain of {method.name} became NaN"
                )
        return FitResult(Scaler(columns, self._input_columns, self._layout), before, after, warnings)


_MARK = "\x00"  # stands for the column name in a method's message


def _domain_error(outside: list[tuple[str, _Accumulator]]) -> str:
    """One line naming every column with values outside its method's domain: columns that
    share a message are listed together, each with its count and an example."""
    groups: dict[str, list[tuple[str, _Accumulator]]] = {}
    for name, acc in outside:
        groups.setdefault(acc.plan.method.invalid_message(_MARK, acc.plan.options), []).append((name, acc))
    parts = []
    for template, items in groups.items():
        if len(items) == 1:
            name, acc = items[0]
            message = template.replace(repr(_MARK), repr(name))
            parts.append(f"{message}: {acc.invalid} such value(s), e.g. {acc.first_invalid!r}")
            continue
        listed = ", ".join(f"{n!r} ({a.invalid} value(s), e.g. {a.first_invalid!r})" for n, a in items)
        plural = template.replace(f"column {_MARK!r} has", f"columns {listed} have")
        parts.append(plural if plural != template else f"{template.replace(repr(_MARK), listed)}")
    return "; ".join(parts)
