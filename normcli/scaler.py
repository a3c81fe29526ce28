"""A fitted scaler: which columns, which method, what was fitted; and its JSON file format.

The scaler works on batches given as mappings of column name -> NumPy array, so the same
object serves a DataFrame held in memory and a file streamed a batch at a time. Fitting
one (choosing the columns, the one pass over the batches) is scaler_fit.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from normcli._version import __version__
from normcli.column_summary import MOMENTS, checked_summary, moments_of, with_moments
from normcli.errors import DataError, NormcliError, UsageError
from normcli.layout import Layout
from normcli.method_table import get_method
from normcli.methods import Counters, Method
from normcli.sketch import Histogram
from normcli.stats import ColumnStats
from normcli.validate import first_line

__all__ = ["ColumnScaler", "Scaler", "with_profiles"]

FORMAT = "normcli-scaler"
VERSION = 2  # 2: methods fitted on more than moments, whose columns may carry a "summary"
READS = (1, 2)  # every version this normcli loads
VERSION_1_METHODS = ("minmax", "zscore", "log", "atan", "reciprocal")
# input types a scaler file may record for a column (optional key "dtype")
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
DTYPES = (*INTEGER_DTYPES, "float16", "float32", "float64")


@dataclass(frozen=True)
class ColumnScaler:
    """One scaled column: its method, the method's options, the fitted values, and the
    statistics of the data it was fitted on."""

    name: str
    method: str
    options: dict[str, Any]
    fitted: dict[str, Any]
    stats: ColumnStats
    summary: dict[str, Any] | None = None  # robust/quantile: rank error and sketch; power: the sample
    dtype: str | None = None  # the input's type (int64, float64, ...); None in older files
    profile: Histogram | None = None  # the fitted data's histogram (what `check` compares with); old files: None

    @property
    def impl(self) -> Method:
        return get_method(self.method)

    def transform(self, x: np.ndarray) -> tuple[np.ndarray, Counters]:
        return self.impl.transform(_as_float(x), self.options, self.fitted, self.name)

    def inverse(self, y: np.ndarray) -> tuple[np.ndarray, Counters]:
        return self.impl.inverse(_as_float(y), self.options, self.fitted, self.name)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "method": self.method,
            "options": self.options,
            "fitted": self.fitted,
            "stats": self.stats.summary(),
            **({"dtype": self.dtype} if self.dtype is not None else {}),
            **({"profile": self.profile.to_dict()} if self.profile is not None else {}),
        }
        if self.summary is not None:
            out["summary"] = self.summary
        moments = moments_of(self.stats)
        if moments is not None:
            out["moments"] = moments
        return out


def _as_float(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


class Scaler:
    """A fitted scaler. `layout` records how the input was shaped: a table, or an N-D array
    with its features on one axis. `dialect` holds the CSV options given when fitting
    (delimiter, no header, names, ...), so that `transform` reads new files of that kind the
    same way; the CLI checks it."""

    def __init__(
        self,
        columns: Iterable[ColumnScaler],
        input_columns: Iterable[str],
        layout: Layout | None = None,
        dialect: Mapping[str, Any] | None = None,
    ) -> None:
        self.columns: list[ColumnScaler] = list(columns)
        self.input_columns: list[str] = list(input_columns)
        self.layout = layout or Layout.table()
        self.dialect: dict[str, Any] = dict(dialect or {})
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

    def check_layout(self, layout: Layout, names: list[str], source: str = "input") -> None:
        """An array scaler applies only to arrays of its rank, feature axis and feature count:
        a wider array would keep its extra features unscaled, so that is refused too."""
        fitted = self.layout
        if not (fitted.is_array and layout.is_array):
            return
        if fitted != layout:
            raise DataError(
                f"the scaler was fitted on {fitted.ndim}-D arrays with features on axis {fitted.axis}, "
                f"but {source} is {layout.ndim}-D with features on axis {layout.axis}"
            )
        if len(names) != len(self.input_columns):
            raise DataError(
                f"the scaler was fitted on arrays of {len(self.input_columns)} features along axis {fitted.axis}, "
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
    @property
    def version(self) -> int:
        """The oldest file format version that holds this scaler: 1 (which older normcli reads) unless
        a column uses a method that version 1 did not have."""
        return 1 if all(c.method in VERSION_1_METHODS for c in self.columns) else VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "normcli_version": __version__,
            "layout": self.layout.to_dict(),
            "input_columns": self.input_columns,
            **({"dialect": self.dialect} if self.dialect else {}),
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
            raise DataError(f"{source} is not a normcli scaler file (not valid JSON: {first_line(exc)})") from None
        except RecursionError:  # thousands of nested brackets: no scaler looks like that
            raise DataError(f"{source} is not a normcli scaler file (nested too deeply)") from None
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "scaler file") -> Scaler:
        try:
            return _parse_scaler(data, source)
        except NormcliError:  # a ValueError too, but ours: already names the fault
            raise
        except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as exc:
            # the checks above name the usual faults; this catches the shapes they did not foresee
            raise DataError(f"{source} is malformed ({type(exc).__name__}: {first_line(exc)})") from None


def with_profiles(scaler: Scaler, profiles: Mapping[str, Histogram]) -> Scaler:
    """The scaler with each column's profile (the fitted data's histogram) set, for `check`."""
    columns = [replace(c, profile=profiles.get(c.name, c.profile)) for c in scaler.columns]
    return Scaler(columns, scaler.input_columns, scaler.layout, scaler.dialect)


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

    def optional_number(self, value: Any, where: str) -> float | None:
        return None if value is None else self.number(value, where)

    def number(self, value: Any, where: str) -> float:
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
    if isinstance(version, bool) or not isinstance(version, int) or version not in READS:
        raise DataError(
            f"{source} has scaler format version {version!r}; this normcli ({__version__}) reads versions "
            f"{', '.join(map(str, READS))}"
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
    if layout.is_array and input_columns != [str(j) for j in range(len(input_columns))]:
        raise ck.fail("'input_columns'", "of an array scaler must be the feature indices '0', '1', ... in order")
    dialect = ck.obj(data.get("dialect", {}), "'dialect'")  # its values are checked where they are used
    return Scaler(columns, input_columns, layout, dialect)


def _parse_layout(ck: _Checker, layout: Any) -> Layout:
    layout = ck.obj(layout, "'layout'")
    kind = layout.get("kind")
    if kind == "table":
        return Layout.table()
    if kind == "array":
        ndim = ck.count(ck.key(layout, "ndim", "'layout'"), "'layout.ndim'")
        axis = ck.count(ck.key(layout, "axis", "'layout'"), "'layout.axis'")
        if not 1 <= ndim <= 32 or axis >= ndim:
            raise ck.fail("'layout'", f"has axis {axis} outside an array of {ndim} dimensions")
        return Layout.array(ndim, axis)
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
    except UsageError as exc:  # the option's name as the command line calls it, like the message it nests
        template = "{source}: {where} options are invalid: " + (exc.template or "{reason}")
        raise DataError.about(template, source=ck.source, where=where, reason=str(exc), **exc.values) from None
    if set(options) - set(checked):
        raise ck.fail(f"{where} options", f"have unknown key(s) {sorted(set(options) - set(checked))}")
    fitted_raw = ck.obj(raw.get("fitted", {}), f"{where} fitted")
    fitted = {k: _fitted_value(ck, v, f"{where} fitted {k!r}") for k, v in fitted_raw.items()}
    stats_raw = ck.obj(ck.key(raw, "stats", where), f"{where} stats")
    stats = ColumnStats.from_summary(
        {
            "count": ck.count(ck.key(stats_raw, "count", f"{where} stats"), f"{where} stats count"),
            "nulls": ck.count(stats_raw.get("nulls", 0), f"{where} stats nulls"),
            "infs": ck.count(stats_raw.get("infs", 0), f"{where} stats infs"),
            **{k: ck.optional_number(stats_raw.get(k), f"{where} stats {k}") for k in ("mean", "std", "min", "max")},
        }
    )
    moments = raw.get("moments")
    if moments is not None and stats.count:
        moments = ck.obj(moments, f"{where} moments")
        exact = {k: ck.number(ck.key(moments, k, f"{where} moments"), f"{where} moments {k}") for k in MOMENTS}
        stats = _checked(ck, f"{where} moments", lambda: with_moments(stats, exact))
    _check_fitted(ck, where, method, checked, fitted)
    dtype = raw.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        raise ck.fail(f"{where} dtype", f"must be one of {', '.join(DTYPES)}, not {dtype!r}")
    summary_raw = raw.get("summary")
    summary_raw = None if summary_raw is None else ck.obj(summary_raw, f"{where} summary")
    summary = _checked(ck, where, lambda: checked_summary(method, summary_raw, stats))
    profile = None
    if "profile" in raw:  # optional: files written before normcli kept profiles have none
        try:
            profile = Histogram.from_dict(ck.obj(raw["profile"], f"{where} profile"))
        except (KeyError, ValueError) as exc:
            raise ck.fail(f"{where} profile", f"is not a histogram ({first_line(exc)})") from None
    return ColumnScaler(name, method.name, checked, fitted, stats, summary, dtype, profile)


def _checked(ck: _Checker, where: str, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except ValueError as exc:
        raise ck.fail(where, str(exc)) from None


def _fitted_value(ck: _Checker, value: Any, where: str) -> float | list[float]:
    if isinstance(value, list):  # the quantile method's quantiles
        return [ck.number(v, where) for v in value]
    return ck.number(value, where)


def _check_fitted(ck: _Checker, where: str, method: Method, options: dict[str, Any], fitted: dict[str, Any]) -> None:
    """The fitted values are those the method stores, and ones its fit could have produced."""
    expected = method.fitted_keys(options)
    if sorted(fitted) != sorted(expected):
        raise ck.fail(f"{where} fitted", f"must have exactly {expected or 'no values'}, not {sorted(fitted)}")
    problem = method.fitted_problem(options, fitted)
    if problem is not None:  # the method's own constraints, as when fitting
        raise ck.fail(where, f"{problem[0]}; refit the scaler")
