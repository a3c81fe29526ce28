"""The power transforms, Yeo-Johnson and Box-Cox, with lambda by maximum likelihood.

As scikit-learn's PowerTransformer: lambda maximises the profile log-likelihood of the
transformed column (Brent's method here, to about 1e-10), then the transformed column is
standardized (its mean and population std) unless `standardize` is false. The fit needs
the values themselves: all of them while the column fits the memory budget, else a sample of
that size chosen by seeded random keys (the same sample for any batch split; the seed is
stored in the scaler file). Fitted on shards, lambda cannot be merged: refit on the union.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from normcli.errors import DataError
from normcli.method_base import Counters, _handle_invalid, _require_values
from normcli.methods_more import SummaryMethod, is_constant
from normcli.stats import ColumnStats
from normcli.validate import as_bool

__all__ = ["BoxCox", "ValueSample", "YeoJohnson"]

DEFAULT_SEED = 0
_TINY = float(np.spacing(1.0))


class ValueSample:
    """Every finite value while there are at most `limit`, else the `limit` values with the
    smallest random keys (keys drawn in stream order from `seed`, so any batch split of the same
    stream gives the same sample)."""

    def __init__(self, limit: int, seed: int = DEFAULT_SEED) -> None:
        self.limit = max(int(limit), 1)
        self.seed = seed
        self.count = 0
        self._rng = np.random.default_rng(seed)
        self._values: list[np.ndarray] = []
        self._keys: list[np.ndarray] = []
        self._held = 0

    @property
    def exact(self) -> bool:
        return self.count <= self.limit

    def update(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        x = x[np.isfinite(x)]
        if not x.size:
            return
        self.count += x.size
        self._values.append(x.copy())
        self._keys.append(self._rng.random(x.size))
        self._held += x.size
        if self._held > 2 * self.limit:
            self._shrink()

    def _shrink(self) -> None:
        values, keys = np.concatenate(self._values), np.concatenate(self._keys)
        keep = np.argpartition(keys, self.limit - 1)[: self.limit]
        keep = keep[np.argsort(keys[keep], kind="stable")]
        self._values, self._keys, self._held = [values[keep]], [keys[keep]], self.limit

    def values(self) -> np.ndarray:
        """The values (in stream order while exact, else in key order)."""
        if not self._values:
            return np.empty(0)
        if self.exact:
            return np.concatenate(self._values)
        if self._held > self.limit:
            self._shrink()
        return self._values[0]

    def merge(self, other: ValueSample) -> ValueSample:
        """A sample of both streams, this one's values first (a dataset's parts fitted apart and
        merged in part order: exact, and equal to the whole's, while the total fits the limit)."""
        out = ValueSample(max(self.limit, other.limit), self.seed)
        out.count = self.count + other.count
        out._values = [*self._values, *other._values]
        out._keys = [*self._keys, *other._keys]
        out._held = self._held + other._held
        if out._held > 2 * out.limit:
            out._shrink()
        return out

    def weighted(self) -> tuple[np.ndarray, np.ndarray]:
        v = self.values()
        return v, np.full(v.size, self.count / v.size if v.size else 1.0)


def _brent_minimize(f: Callable[[float], float], a: float = -2.0, b: float = 2.0, tol: float = 1e-11) -> float:
    """The x minimising f: a bracket grown from (a, b) by golden steps, then Brent's method."""
    gold = 1.618033988749895
    fa, fb = f(a), f(b)
    if fb > fa:
        a, b, fa, fb = b, a, fb, fa
    c = b + gold * (b - a)
    fc = f(c)
    for _ in range(200):
        if fc >= fb:
            break
        a, b, fa, fb = b, c, fb, fc
        c = b + gold * (b - a)
        fc = f(c)
    lo, hi = min(a, c), max(a, c)
    x = w = v = b
    fx = fw = fv = fb
    d = e = 0.0
    cgold = 0.3819660112501051
    for _ in range(500):
        mid = 0.5 * (lo + hi)
        tol1 = tol * abs(x) + 1e-14
        tol2 = 2 * tol1
        if abs(x - mid) <= tol2 - 0.5 * (hi - lo):
            break
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2 * (q - r)
            if q > 0:
                p = -p
            q = abs(q)
            if abs(p) < abs(0.5 * q * e) and q * (lo - x) < p < q * (hi - x):
                e, d = d, p / q
                u = x + d
                if u - lo < tol2 or hi - u < tol2:
                    d = math.copysign(tol1, mid - x)
            else:
                e = (hi if x < mid else lo) - x
                d = cgold * e
        else:
            e = (hi if x < mid else lo) - x
            d = cgold * e
        u = x + (d if abs(d) >= tol1 else math.copysign(tol1, d))
        fu = f(u)
        if fu <= fx:
            if u < x:
                hi = x
            else:
                lo = x
            v, w, x, fv, fw, fx = w, x, u, fw, fx, fu
        else:
            if u < x:
                lo = u
            else:
                hi = u
            if fu <= fw or w == x:
                v, w, fv, fw = w, u, fw, fu
            elif fu <= fv or v in (x, w):
                v, fv = u, fu
    return x


class PowerMethod(SummaryMethod):
    """The shared part of the two power transforms: options, standardization, the file."""

    needs: ClassVar[str] = "values"
    mergeable: ClassVar[bool] = False
    option_names = ("standardize",)
    fitted_text = "lambda (maximum likelihood); mean, std of the transformed column unless {standardize}"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        out["standardize"] = as_bool("standardize", options.get("standardize", True))
        return out

    def power(self, x: np.ndarray, lam: float) -> np.ndarray:
        raise NotImplementedError

    def power_inverse(self, y: np.ndarray, lam: float) -> np.ndarray:
        raise NotImplementedError

    def neg_llf(self, x: np.ndarray, lam: float) -> float:
        raise NotImplementedError

    def fit_summary(self, column: str, x_stats: ColumnStats, summary: Any, options: dict[str, Any]) -> dict[str, Any]:
        _require_values(column, x_stats, self.name)
        x = summary.values()
        if is_constant(ColumnStats.of(x)):
            lam = 1.0  # scikit-learn leaves a constant column as it is (lambda 1 is the identity)
        else:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                lam = _brent_minimize(lambda lam: self.neg_llf(x, lam))
        fitted: dict[str, Any] = {"lambda": lam}
        if options["standardize"]:
            with np.errstate(over="ignore", invalid="ignore"):
                y = self.power(x, lam)
            mean, std = float(np.mean(y)), float(np.std(y))
            if not (math.isfinite(mean) and math.isfinite(std)):
                raise DataError(f"column {column!r}: the power transform with lambda {lam:.6g} overflows float64")
            if std == 0 or is_constant(ColumnStats.of(y)):
                std = 1.0
            fitted["mean"], fitted["std"] = mean, std
        return fitted

    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        return ["lambda", "mean", "std"] if options["standardize"] else ["lambda"]

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, Any]) -> tuple[str, str] | None:
        if options["standardize"] and not fitted["std"] > 0:
            return f"has std {fitted['std']!r}; it must be > 0", ""
        return None

    def record(self, summary: Any) -> dict[str, Any]:
        return {"sample": {"values": int(summary.values().size), "of": summary.count, "seed": summary.seed}}

    def summary_from_record(self, record: dict[str, Any]) -> Any:
        return None

    def transform(
        self, x: np.ndarray, options: dict[str, Any], fitted: dict[str, Any], column: str
    ) -> tuple[np.ndarray, Counters]:
        counters = Counters()
        x = _handle_invalid(x, self.invalid_mask(x, options), options, counters, self.invalid_message(column, options))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = self.power(x, fitted["lambda"])
            if options["standardize"]:
                y -= fitted["mean"]
                y /= fitted["std"]
        return y, counters

    def inverse(
        self, y: np.ndarray, options: dict[str, Any], fitted: dict[str, Any], column: str
    ) -> tuple[np.ndarray, Counters]:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            v = np.array(y, dtype=np.float64, copy=True)
            if options["standardize"]:
                v *= fitted["std"]
                v += fitted["mean"]
            return self.power_inverse(v, fitted["lambda"]), Counters()


class YeoJohnson(PowerMethod):
    name = "yeo-johnson"
    forward_text = "((x+1)^l - 1) / l for x >= 0, -((1-x)^(2-l) - 1) / (2-l) below; then standardized"
    inverse_text = "the power inverse of y * std + mean"
    sklearn = "PowerTransformer(method='yeo-johnson')"

    def power(self, x: np.ndarray, lam: float) -> np.ndarray:
        out = np.empty_like(x, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            pos = x >= 0
        neg = ~pos & ~np.isnan(x)
        out[np.isnan(x)] = np.nan
        if abs(lam) < _TINY:
            out[pos] = np.log1p(x[pos])
        else:
            out[pos] = np.expm1(lam * np.log1p(x[pos])) / lam
        if abs(lam - 2) > _TINY:
            out[neg] = -np.expm1((2 - lam) * np.log1p(-x[neg])) / (2 - lam)
        else:
            out[neg] = -np.log1p(-x[neg])
        return out

    def power_inverse(self, y: np.ndarray, lam: float) -> np.ndarray:
        out = np.empty_like(y)
        with np.errstate(invalid="ignore"):
            pos = y >= 0
        neg = ~pos & ~np.isnan(y)
        out[np.isnan(y)] = np.nan
        if abs(lam) < _TINY:
            out[pos] = np.expm1(y[pos])
        else:
            out[pos] = np.power(y[pos] * lam + 1, 1 / lam) - 1
        if abs(lam - 2) > _TINY:
            out[neg] = 1 - np.power(-(2 - lam) * y[neg] + 1, 1 / (2 - lam))
        else:
            out[neg] = -np.expm1(-y[neg])
        return out

    def neg_llf(self, x: np.ndarray, lam: float) -> float:
        y = self.power(x, lam)
        var = float(np.var(y))
        if not var > 0 or not math.isfinite(var):
            return math.inf
        return 0.5 * x.size * math.log(var) - (lam - 1) * float(np.sum(np.sign(x) * np.log1p(np.abs(x))))


class BoxCox(PowerMethod):
    name = "box-cox"
    forward_text = "(x^l - 1) / l (log x at l = 0); then standardized"
    inverse_text = "((y * std + mean) * l + 1)^(1/l) (exp at l = 0)"
    domain_text = "x > 0"
    sklearn = "PowerTransformer(method='box-cox')"

    def invalid_mask(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray | None:
        with np.errstate(invalid="ignore"):
            return x <= 0

    def invalid_message(self, column: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        template = "column {column!r} has values <= 0; box-cox needs x > 0 (use {method} yeo-johnson, or {invalid} nan)"
        return template, {"column": column}

    def power(self, x: np.ndarray, lam: float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            logx = np.log(x)
        return logx if lam == 0 else np.expm1(lam * logx) / lam

    def power_inverse(self, y: np.ndarray, lam: float) -> np.ndarray:
        return np.exp(y) if lam == 0 else np.exp(np.log1p(lam * y) / lam)

    def neg_llf(self, x: np.ndarray, lam: float) -> float:
        logx = np.log(x)
        y = logx if lam == 0 else np.expm1(lam * logx) / lam
        var = float(np.var(y))
        if not var > 0 or not math.isfinite(var):
            return math.inf
        return 0.5 * x.size * math.log(var) - (lam - 1) * float(np.sum(logx))
