"""The five classic scaling methods, in pure NumPy: minmax and zscore (affine maps fitted
from the moments), log, atan and reciprocal (an elementwise base function, then an affine
map); and their registry. What every method is (`Method`, `Affine`, `Counters`) is
method_base.py; the other methods are in methods_more.py and power.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from normcli.errors import DataError, OptionError, UsageError
from normcli.method_base import Affine, Counters, Method, _require_values, counter_notes, std_with_ddof
from normcli.stats import ColumnStats
from normcli.validate import as_bool, as_finite_float, as_int, as_pair

__all__ = ["CLASSIC_METHODS", "Affine", "Counters", "Method", "counter_notes"]

# Below 2**-1022 floats are subnormal and lose a bit per halving; from 2**-1034 down they
# keep fewer than 41 of their 53 bits, too few for the 1e-12 round trip the README promises.
_TINY = math.ldexp(1.0, -1034)
_HUGE = float(np.finfo(np.float64).max)


def _usable_factor(value: float) -> bool:
    """Whether a width or a scale factor is finite and not so deep in the subnormals (or
    flushed to 0) that it has lost its precision."""
    return math.isfinite(value) and abs(value) >= _TINY


def _raise_fit_problem(column: str, problem: tuple[str, str] | None) -> None:
    """`problem` (what, and the fix: templates that may name parameters) as a DataError."""
    if problem is not None:
        what, fix = problem
        raise DataError.about("column {column!r} " + what + ("; " + fix if fix else ""), column=column)


class MinMax(Method):
    name = "minmax"
    sklearn = "MinMaxScaler(feature_range, clip)"
    finite_only = True
    option_names = ("range", "clip")
    forward_text = "(x - min) / (max - min) * (hi - lo) + lo"
    inverse_text = "(y - lo) / (hi - lo) * (max - min) + min"
    fitted_text = "min, max"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        rng = options.get("range", (0.0, 1.0))
        lo, hi = as_pair("range", rng)
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            shown = f"{rng[0]!r} {rng[1]!r}"
            raise OptionError("range", shown, "finite LO < HI", "{parameter} needs {requirement}, not {value}")
        if not _usable_factor(hi - lo):  # 0 5e-324 would map every value to LO
            raise UsageError.about(
                "{range} {shown} is {width!r} wide; float64 scales only to widths from {tiny:.3g} to {huge:.3g}",
                shown=f"{rng[0]!r} {rng[1]!r}",
                width=hi - lo,
                tiny=_TINY,
                huge=_HUGE,
            )
        out["range"] = [lo, hi]
        out["clip"] = as_bool("clip", options.get("clip", False))
        return out

    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, float]:
        _require_values(column, g_stats, self.name)
        fitted = {"min": g_stats.min, "max": g_stats.max}
        _raise_fit_problem(column, self.fitted_problem(options, fitted))
        return fitted

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, float]) -> tuple[str, str] | None:
        lo, hi = options["range"]
        mn, mx = fitted["min"], fitted["max"]
        if not mn <= mx:
            return f"has min {mn!r} > max {mx!r}", ""
        span = mx - mn
        if not math.isfinite(span):
            return (
                f"spans {mn!r} to {mx!r}, a range that overflows float64",
                "rescale it first (e.g. {method} log or atan)",
            )
        if span > 0 and not _usable_factor((hi - lo) / span):
            how = "overflows" if (hi - lo) / span > 1 else "underflows"
            return (
                f"spans {'only ' if how == 'overflows' else ''}{span!r}; mapping that to the range "
                f"[{lo!r}, {hi!r}] {how} float64",
                "rescale it first or choose another {range}",
            )
        return None

    def affine(self, options: dict[str, Any], fitted: dict[str, float]) -> Affine:
        lo, hi = options["range"]
        width = fitted["max"] - fitted["min"]
        return Affine(fitted["min"], (hi - lo) / width if width > 0 else 0.0, lo)

    def constant_warning(self, column: str, options: dict[str, Any], fitted: dict[str, float]) -> str | None:
        if fitted["max"] == fitted["min"]:
            return f"column {column!r} is constant ({fitted['min']!r}); minmax maps it to {options['range'][0]!r}"
        return None

    def transform(
        self, x: np.ndarray, options: dict[str, Any], fitted: dict[str, float], column: str
    ) -> tuple[np.ndarray, Counters]:
        y, counters = super().transform(x, options, fitted, column)
        with np.errstate(invalid="ignore"):
            outside = (x < fitted["min"]) | (x > fitted["max"])
        n_outside = int(np.count_nonzero(outside))
        if n_outside and options["clip"]:
            lo, hi = options["range"]
            np.clip(y, lo, hi, out=y)
            counters.clipped += n_outside
        else:
            counters.out_of_range += n_outside
        return y, counters

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["min", "max"]


class ZScore(Method):
    name = "zscore"
    sklearn = "StandardScaler"
    finite_only = True
    option_names = ("ddof",)
    forward_text = "(x - mean) / std"
    inverse_text = "y * std + mean"
    fitted_text = "mean, std (ddof 0 unless {ddof})"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        out["ddof"] = as_int("ddof", options.get("ddof", 0), minimum=0)
        return out

    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, float]:
        _require_values(column, g_stats, self.name)
        std = std_with_ddof(column, g_stats, options["ddof"])
        if not math.isfinite(std):
            raise DataError.about(
                "column {column!r} has a standard deviation that overflows float64 (values near "
                "{near:.3g}); rescale it first (e.g. {method} log or atan)",
                column=column,
                near=max(abs(g_stats.min), abs(g_stats.max)),
            )
        fitted = {"mean": g_stats.mean, "std": std}
        _raise_fit_problem(column, self.fitted_problem(options, fitted))
        return fitted

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, float]) -> tuple[str, str] | None:
        std = fitted["std"]
        if not std >= 0:
            return f"has a negative std {std!r}", ""
        if std > 0 and not math.isfinite(1.0 / std):
            return (
                f"has a standard deviation of {std:.3g}, too small for float64 to divide by",
                "rescale it first (multiply it by a large power of ten)",
            )
        return None

    def affine(self, options: dict[str, Any], fitted: dict[str, float]) -> Affine:
        std = fitted["std"]
        return Affine(fitted["mean"], 1.0 / std if std > 0 else 0.0, 0.0)

    def constant_warning(self, column: str, options: dict[str, Any], fitted: dict[str, float]) -> str | None:
        if fitted["std"] == 0:
            return f"column {column!r} is constant ({fitted['mean']!r}); zscore maps it to 0"
        return None

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["mean", "std"]


class Log(Method):
    name = "log"
    option_names = ("base", "offset", "normalize")
    forward_text = "log_base(x + offset), / log_base(max + offset) with {normalize}"
    inverse_text = "base ** y - offset (y * log_base(max + offset) first when normalized)"
    fitted_text = "max when normalized, else nothing"
    domain_text = "x + offset > 0"
    nonlinear = True

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        base = as_finite_float("base", options.get("base", 10.0))
        if not base > 1:
            raise OptionError("base", base, "> 1")
        out["base"] = base
        out["offset"] = as_finite_float("offset", options.get("offset", 0.0))
        out["normalize"] = as_bool("normalize", options.get("normalize", False))
        return out

    def g(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        v = x + options["offset"] if options["offset"] else x
        base = options["base"]
        if base == 10:
            return np.log10(v)
        if base == 2:
            return np.log2(v)
        if base == math.e:
            return np.log(v)
        return np.log(v) / math.log(base)

    def g_inverse(self, v: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        base = options["base"]
        if base == 2:
            x = np.exp2(v)
        elif base == math.e:
            x = np.exp(v)
        else:
            x = np.power(base, v)
        if options["offset"]:
            x -= options["offset"]
        return x

    def invalid_mask(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray | None:
        with np.errstate(invalid="ignore"):
            return x <= -options["offset"] if options["offset"] else x <= 0

    def invalid_message(self, column: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        bound = repr(-options["offset"]) if options["offset"] else "0"
        template = (
            "column {column!r} has values <= {bound}; log needs x + offset > 0 "
            "(use {offset}, {invalid} nan or another method)"
        )
        return template, {"column": column, "bound": bound}

    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, float]:
        if g_stats.infs > x_stats.infs:
            raise DataError.about(
                "column {column!r}: x + offset overflows float64 for {count} value(s); use a smaller {offset}",
                column=column,
                count=g_stats.infs - x_stats.infs,
            )
        if not options["normalize"]:
            return {}
        _require_values(column, g_stats, self.name)
        if not g_stats.max > 0:
            raise DataError.about(
                "column {column!r} has max + offset <= 1; {normalize} maps [1, max] to [0, 1] and needs max > 1",
                column=column,
            )
        fitted = {"max": x_stats.max}
        _raise_fit_problem(column, self.fitted_problem(options, fitted))
        return fitted

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, float]) -> tuple[str, str] | None:
        if not options["normalize"]:
            return None
        top = fitted["max"] + options["offset"]
        if not top > 1:
            return f"has max {fitted['max']!r}; normalization needs max + offset > 1", ""
        with np.errstate(over="ignore", divide="ignore"):
            log_max = float(self.g(np.asarray(fitted["max"], dtype=np.float64), options))
        if not (math.isfinite(top) and _usable_factor(1.0 / log_max)):
            return (
                f"has max {fitted['max']!r}, whose log (offset {options['offset']!r}) float64 cannot divide by",
                "use a smaller {offset}",
            )
        return None

    def affine(self, options: dict[str, Any], fitted: dict[str, float]) -> Affine:
        if options["normalize"]:
            with np.errstate(over="ignore"):
                log_max = float(self.g(np.array(fitted["max"]), options))
            return Affine(0.0, 1.0 / log_max, 0.0)
        return Affine()

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["max"] if options["normalize"] else []


class Atan(Method):
    name = "atan"
    forward_text = "atan(x) * 2 / pi"
    inverse_text = "tan(y * pi / 2)"
    nonlinear = True

    def g(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        y = np.arctan(x)
        y *= 2 / math.pi
        return y

    def g_inverse(self, v: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        x = v * (math.pi / 2)
        # tan(+-pi/2) is finite in floating point; atan only reaches +-1 at +-inf.
        edge = np.abs(v) == 1
        np.tan(x, out=x)
        if edge.any():
            x[edge] = np.copysign(np.inf, v[edge])
        return x

    def invalid_inverse_mask(self, y: np.ndarray, options: dict[str, Any]) -> np.ndarray | None:
        with np.errstate(invalid="ignore"):
            return np.abs(y) > 1


class Reciprocal(Method):
    name = "reciprocal"
    forward_text = "1 / (1 + x)"
    inverse_text = "1 / y - 1"
    domain_text = "x != -1"
    nonlinear = True

    def g(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        y = x + 1.0
        np.reciprocal(y, out=y)
        return y

    def g_inverse(self, v: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        x = np.reciprocal(v)
        x -= 1.0
        return x

    def invalid_mask(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray | None:
        return x == -1

    def invalid_message(self, column: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        template = (
            "column {column!r} has values equal to -1, where 1/(1+x) is undefined (use {invalid} nan or another method)"
        )
        return template, {"column": column}


# The classic five; every method by name, with get_method, is in method_table.py.
CLASSIC_METHODS: dict[str, Method] = {m.name: m for m in (MinMax(), ZScore(), Log(), Atan(), Reciprocal())}
