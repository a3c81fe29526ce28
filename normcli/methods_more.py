"""The scalers beyond the classic five: x / std, max-abs, robust and quantile.

`scale` and `maxabs` are affine maps fitted from the moments, like zscore. `robust` and
`quantile` need quantiles: the fitter gives them a `QuantileSketch` of each column (exact while
the column fits the memory budget), they fit from it, and the scaler file keeps a compacted
copy of it so that scalers fitted on shards merge (`normcli merge`). Each equals its
scikit-learn class (StandardScaler(with_mean=False), MaxAbsScaler, RobustScaler,
QuantileTransformer with subsample off) on the same data.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

import normcli.normal as normal
from normcli.errors import DataError, OptionError
from normcli.method_base import Affine, Counters, Method, _require_values, std_with_ddof
from normcli.sketch import QuantileSketch
from normcli.stats import ColumnStats
from normcli.validate import as_bool, as_int, as_pair

__all__ = ["MaxAbs", "Quantile", "Robust", "Scale", "SummaryMethod", "is_constant", "weighted_stats"]

EPS = float(np.finfo(np.float64).eps)
BOUNDS_THRESHOLD = 1e-7  # scikit-learn's: how close to 0 or 1 a uniform value is taken as the bound
STORED_K = 1024  # values per level of the sketch a scaler file keeps for merging


def is_constant(s: ColumnStats) -> bool:
    """Whether the variance is rounding noise, by scikit-learn's test (_is_constant_feature)."""
    n, mean, var = s.count, s.mean, s.std() ** 2
    return var <= n * EPS * var + (n * mean * EPS) ** 2


def weighted_stats(values: np.ndarray, weights: np.ndarray, like: ColumnStats) -> ColumnStats:
    """The statistics of values standing for `weights` input values each, with the counts of
    `like` (the statistics of the whole column); exact when every weight is 1."""
    finite = np.isfinite(values)
    if not finite.any():
        return ColumnStats(count=0, nulls=like.nulls + like.count, infs=like.infs)
    v, w = values[finite], weights[finite]
    if (w == 1).all() and v.size == like.count:
        s = ColumnStats.of(v)
        return ColumnStats(**{**s.__dict__, "nulls": like.nulls, "infs": like.infs})
    total = float(w.sum())
    mean = float(np.dot(w, v) / total)
    d = v - mean
    var = float(np.dot(w, d * d) / total)
    return ColumnStats(
        count=like.count,
        nulls=like.nulls,
        infs=like.infs,
        shift=mean,
        dmean=0.0,
        m2=var * like.count,
        min=float(v.min()),
        max=float(v.max()),
    )


class Scale(Method):
    name = "scale"
    finite_only = True
    option_names = ("ddof",)
    forward_text = "x / std"
    inverse_text = "y * std"
    fitted_text = "std (ddof 0 unless {ddof}); 1 for a constant column"
    sklearn = "StandardScaler(with_mean=False)"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        out["ddof"] = as_int("ddof", options.get("ddof", 0), minimum=0)
        return out

    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, Any]:
        _require_values(column, x_stats, self.name)
        std = std_with_ddof(column, x_stats, options["ddof"])
        if not math.isfinite(std) or (std > 0 and not math.isfinite(1.0 / std)):
            raise DataError(f"column {column!r} has a standard deviation of {std:.3g}, which float64 cannot divide by")
        return {"std": 1.0 if is_constant(x_stats) or std == 0 else std}

    def affine(self, options: dict[str, Any], fitted: dict[str, Any]) -> Affine:
        return Affine(0.0, 1.0 / fitted["std"], 0.0)

    def constant_warning(self, column: str, options: dict[str, Any], fitted: dict[str, Any]) -> str | None:
        return None

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["std"]

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, Any]) -> tuple[str, str] | None:
        return None if fitted["std"] > 0 else (f"has std {fitted['std']!r}; it must be > 0", "")


class MaxAbs(Method):
    name = "maxabs"
    finite_only = True
    forward_text = "x / max|x|"
    inverse_text = "y * max|x|"
    fitted_text = "max_abs (1 for an all-zero column)"
    sklearn = "MaxAbsScaler"

    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, Any]:
        _require_values(column, x_stats, self.name)
        max_abs = max(abs(x_stats.min), abs(x_stats.max))
        if max_abs > 0 and not math.isfinite(1.0 / max_abs):
            raise DataError(f"column {column!r} has max|x| {max_abs:.3g}, which float64 cannot divide by")
        return {"max_abs": max_abs if max_abs > 10 * EPS else 1.0}

    def affine(self, options: dict[str, Any], fitted: dict[str, Any]) -> Affine:
        return Affine(0.0, 1.0 / fitted["max_abs"], 0.0)

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["max_abs"]

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, Any]) -> tuple[str, str] | None:
        return None if fitted["max_abs"] > 0 else (f"has max_abs {fitted['max_abs']!r}; it must be > 0", "")


class SummaryMethod(Method):
    """A method fitted from more than moments: `needs` says what the fitter gathers per column
    ("quantiles": a QuantileSketch; "values": the values, or a seeded sample of them)."""

    needs: ClassVar[str] = "quantiles"
    mergeable: ClassVar[bool] = True
    finite_only = True

    def fit_summary(self, column: str, x_stats: ColumnStats, summary: Any, options: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def after_stats(
        self, options: dict[str, Any], fitted: dict[str, Any], x_stats: ColumnStats, summary: Any
    ) -> ColumnStats:
        """The statistics of the transformed column (from the summary when it is a sketch)."""
        values, weights = summary.weighted()
        y, _ = self.transform(values, options, fitted, "")
        return weighted_stats(y, weights, x_stats)

    def record(self, summary: Any) -> dict[str, Any]:
        """What the scaler file keeps of the summary: for a sketch, its rank error and a compacted
        copy for merging."""
        return {"rank_error": summary.rank_error, "sketch": summary.compacted(STORED_K).to_dict()}

    def summary_from_record(self, record: dict[str, Any]) -> Any:
        return QuantileSketch.from_dict(record["sketch"])


class Robust(SummaryMethod):
    name = "robust"
    option_names = ("quantile_range", "with_centering", "with_scaling", "unit_variance")
    forward_text = "(x - median) / (q_hi - q_lo)"
    inverse_text = "y * (q_hi - q_lo) + median"
    fitted_text = "center (median), scale (q_hi - q_lo of {quantile_range}; / 1.349 with {unit_variance})"
    sklearn = "RobustScaler"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        given = options.get("quantile_range", (25.0, 75.0))
        lo, hi = as_pair("quantile_range", given)
        if not 0 <= lo < hi <= 100:
            shown = f"{lo!r} {hi!r}"
            template = "{parameter} needs {requirement}, not {value}"
            raise OptionError("quantile_range", shown, "0 <= LO < HI <= 100", template)
        out["quantile_range"] = [lo, hi]
        out["with_centering"] = as_bool("with_centering", options.get("with_centering", True))
        out["with_scaling"] = as_bool("with_scaling", options.get("with_scaling", True))
        out["unit_variance"] = as_bool("unit_variance", options.get("unit_variance", False))
        return out

    def fit_summary(self, column: str, x_stats: ColumnStats, summary: Any, options: dict[str, Any]) -> dict[str, Any]:
        _require_values(column, x_stats, self.name)
        lo, hi = options["quantile_range"]
        q_lo, median, q_hi = summary.quantiles([lo / 100, 0.5, hi / 100])
        fitted: dict[str, Any] = {}
        if options["with_centering"]:
            fitted["center"] = median
        if options["with_scaling"]:
            scale = q_hi - q_lo
            if not math.isfinite(scale):
                raise DataError(f"column {column!r} has quantiles {q_lo!r} and {q_hi!r}, too far apart for float64")
            if scale < 10 * EPS:
                scale = 1.0  # scikit-learn's choice: a column without spread is left unscaled
            if options["unit_variance"]:
                scale /= float(normal.ppf(np.array(hi / 100)) - normal.ppf(np.array(lo / 100)))
            fitted["scale"] = scale
        return fitted

    def affine(self, options: dict[str, Any], fitted: dict[str, Any]) -> Affine:
        return Affine(fitted.get("center", 0.0), 1.0 / fitted.get("scale", 1.0), 0.0)

    def after_stats(
        self, options: dict[str, Any], fitted: dict[str, Any], x_stats: ColumnStats, summary: Any
    ) -> ColumnStats:
        return self.affine(options, fitted).stats(x_stats)

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["center"] * options["with_centering"] + ["scale"] * options["with_scaling"]

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, Any]) -> tuple[str, str] | None:
        scale = fitted.get("scale", 1.0)
        return None if scale > 0 and math.isfinite(1.0 / scale) else (f"has scale {scale!r}; it must be > 0", "")


class Quantile(SummaryMethod):
    name = "quantile"
    option_names = ("n_quantiles", "output_distribution")
    forward_text = "F(x), the empirical CDF interpolated between {n_quantiles} quantiles; Phi^-1(F(x)) when normal"
    inverse_text = "F^-1(y) (F^-1(Phi(y)) when normal)"
    fitted_text = "quantiles (min(n_quantiles, rows) of them)"
    sklearn = "QuantileTransformer(subsample=None)"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        out["n_quantiles"] = as_int("n_quantiles", options.get("n_quantiles", 1000), minimum=1)
        dist = options.get("output_distribution", "uniform")
        if dist not in ("uniform", "normal"):
            raise OptionError("output_distribution", dist, "uniform or normal")
        out["output_distribution"] = dist
        return out

    def fit_summary(self, column: str, x_stats: ColumnStats, summary: Any, options: dict[str, Any]) -> dict[str, Any]:
        _require_values(column, x_stats, self.name)
        rows = x_stats.count + x_stats.nulls  # scikit-learn counts the rows, NaN or not
        n = max(1, min(options["n_quantiles"], rows))
        quantiles = np.maximum.accumulate(np.array(summary.quantiles(np.linspace(0, 1, n))))
        return {"quantiles": quantiles.tolist()}

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["quantiles"]

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, Any]) -> tuple[str, str] | None:
        q = fitted["quantiles"]
        if not isinstance(q, list) or not q or len(q) > options["n_quantiles"]:
            return f"quantiles must be a list of 1 to {options['n_quantiles']} numbers", ""
        if any(b < a for a, b in zip(q, q[1:], strict=False)):
            return "quantiles must not decrease", ""
        return None

    def transform(
        self, x: np.ndarray, options: dict[str, Any], fitted: dict[str, Any], column: str
    ) -> tuple[np.ndarray, Counters]:
        q = np.asarray(fitted["quantiles"], dtype=np.float64)
        refs = np.linspace(0, 1, q.size)
        counters = Counters()
        y = np.array(x, dtype=np.float64, copy=True)
        with np.errstate(invalid="ignore"):
            counters.out_of_range = int(np.count_nonzero((x < q[0]) | (x > q[-1])))
            if options["output_distribution"] == "normal":
                lower, upper = x - BOUNDS_THRESHOLD < q[0], x + BOUNDS_THRESHOLD > q[-1]
            else:
                lower, upper = x == q[0], x == q[-1]
        finite = ~np.isnan(x)
        v = x[finite]
        # both directions and their mean, so that repeated quantiles map to the middle of their span
        y[finite] = 0.5 * (np.interp(v, q, refs) - np.interp(-v, -q[::-1], -refs[::-1]))
        y[upper] = 1.0
        y[lower] = 0.0
        if options["output_distribution"] == "normal":
            y = normal.ppf(y)
            bound = float(normal.ppf(np.array(1 - (BOUNDS_THRESHOLD - np.spacing(1)))))
            np.clip(y, -bound, bound, out=y)
        return y, counters

    def inverse(
        self, y: np.ndarray, options: dict[str, Any], fitted: dict[str, Any], column: str
    ) -> tuple[np.ndarray, Counters]:
        q = np.asarray(fitted["quantiles"], dtype=np.float64)
        refs = np.linspace(0, 1, q.size)
        u = normal.cdf(y) if options["output_distribution"] == "normal" else np.asarray(y, dtype=np.float64)
        counters = Counters()
        with np.errstate(invalid="ignore"):
            if options["output_distribution"] == "normal":
                lower, upper = u - BOUNDS_THRESHOLD < 0, u + BOUNDS_THRESHOLD > 1
            else:
                lower, upper = u == 0, u == 1
            counters.out_of_range = int(np.count_nonzero((u < 0) | (u > 1)))
        x = np.array(u, dtype=np.float64, copy=True)
        finite = ~np.isnan(u)
        x[finite] = np.interp(u[finite], refs, q)
        x[upper] = q[-1]
        x[lower] = q[0]
        return x, counters
