"""The scaling methods, in pure NumPy.

Every method is y = (g(x) - shift) * scale + offset: an elementwise base function g
(identity, log, atan, reciprocal) followed by an affine map fitted from the statistics of
g(x). That one shape gives each method its inverse, lets the fit compute the "after"
statistics from the "before" ones without a second pass, and keeps the subtraction of a
large centre (a column at 1e9) ahead of the scaling, where it loses no precision.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from normcli.errors import DataError, UsageError
from normcli.stats import ColumnStats

__all__ = ["Affine", "METHODS", "Method", "get_method"]

INVALID_POLICIES = ("error", "nan")


@dataclass(frozen=True)
class Affine:
    """y = (v - shift) * scale + offset; scale 0 maps everything to `offset` (constant input)."""

    shift: float = 0.0
    scale: float = 1.0
    offset: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.shift == 0.0 and self.scale == 1.0 and self.offset == 0.0

    def apply(self, v: np.ndarray) -> np.ndarray:
        if self.is_identity:
            return v
        y = v - self.shift if self.shift else v.copy()
        if self.scale != 1.0:
            y *= self.scale
        if self.offset:
            y += self.offset
        return y

    def invert(self, y: np.ndarray) -> np.ndarray:
        if self.is_identity:
            return y
        if self.scale == 0.0:
            # A constant column: every value came from `shift`; NaN stays NaN.
            v = np.full_like(y, self.shift)
            v[np.isnan(y)] = np.nan
            return v
        v = y - self.offset if self.offset else y.copy()
        if self.scale != 1.0:
            v /= self.scale
        if self.shift:
            v += self.shift
        return v

    def stats(self, s: ColumnStats) -> ColumnStats:
        return s.affine(self.shift, self.scale, self.offset)


@dataclass
class Counters:
    """What a transform did to one column, for the report."""

    invalid: int = 0  # values outside the method's domain, turned into NaN
    clipped: int = 0  # values outside the fitted range, clipped (minmax --clip)
    out_of_range: int = 0  # values outside the fitted range, kept

    def add(self, other: Counters) -> None:
        self.invalid += other.invalid
        self.clipped += other.clipped
        self.out_of_range += other.out_of_range


class Method:
    """A scaling method. Subclasses set the formula texts and override the hooks."""

    name: ClassVar[str]
    forward_text: ClassVar[str]
    inverse_text: ClassVar[str]
    fitted_text: ClassVar[str] = "nothing"
    domain_text: ClassVar[str] = "all x"
    nonlinear: ClassVar[bool] = False
    flags: ClassVar[dict[str, str]] = {}  # this method's own options -> their CLI flags

    # --- options --------------------------------------------------------------------
    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate and complete this method's options (raising UsageError), returning the
        dict stored in the scaler file."""
        invalid = options.get("invalid", "error")
        if invalid not in INVALID_POLICIES:
            raise UsageError(f"--invalid must be one of {', '.join(INVALID_POLICIES)}, not {invalid!r}")
        return {"invalid": invalid}

    # --- the base function g and its domain -------------------------------------------
    def g(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        return x

    def g_inverse(self, v: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        return v

    def invalid_mask(self, x: np.ndarray, options: dict[str, Any]) -> np.ndarray | None:
        """Where x is outside the domain of g (None when the domain is everything)."""
        return None

    def invalid_inverse_mask(self, y: np.ndarray, options: dict[str, Any]) -> np.ndarray | None:
        """Where a transformed value is outside the range the forward map can produce."""
        return None

    def invalid_message(self, column: str, options: dict[str, Any]) -> str:
        return f"column {column!r} has values outside the domain of {self.name} ({self.domain_text})"

    # --- fitting ----------------------------------------------------------------------
    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, float]:
        """The fitted values from the statistics of x and of g(x) (DataError when impossible)."""
        return {}

    def affine(self, options: dict[str, Any], fitted: dict[str, float]) -> Affine:
        return Affine()

    def fitted_problem(self, options: dict[str, Any], fitted: dict[str, float]) -> tuple[str, str] | None:
        """Why these fitted values cannot be applied in float64 (a phrase that follows
        "column 'x'", and the fix when fitting), or None. Both `fit` and the scaler file
        loader ask this, so a hand-edited file is refused exactly where a fit would be."""
        return None

    def constant_warning(self, column: str, options: dict[str, Any], fitted: dict[str, float]) -> str | None:
        """A warning when the fit degenerated (a constant column), else None."""
        return None

    # --- applying ---------------------------------------------------------------------
    def transform(
        self, x: np.ndarray, options: dict[str, Any], fitted: dict[str, float], column: str
    ) -> tuple[np.ndarray, Counters]:
        """y for x (float64, any shape), and what happened on the way."""
        counters = Counters()
        x = _handle_invalid(x, self.invalid_mask(x, options), options, counters, self.invalid_message(column, options))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = self.affine(options, fitted).apply(self.g(x, options))
        return y, counters

    def inverse(
        self, y: np.ndarray, options: dict[str, Any], fitted: dict[str, float], column: str
    ) -> tuple[np.ndarray, Counters]:
        """x for y, the inverse of `transform`."""
        counters = Counters()
        y = _handle_invalid(
            y,
            self.invalid_inverse_mask(y, options),
            options,
            counters,
            f"column {column!r} has values that {self.name} cannot produce, so they have no inverse",
        )
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = self.g_inverse(self.affine(options, fitted).invert(y), options)
        return x, counters

    def valid_values(self, x: np.ndarray, options: dict[str, Any]) -> tuple[np.ndarray, int]:
        """x with out-of-domain values replaced by NaN, and how many there were (for fitting)."""
        mask = self.invalid_mask(x, options)
        if mask is None:
            return x, 0
        bad = int(np.count_nonzero(mask))
        if bad:
            x = np.where(mask, np.nan, x)
        return x, bad


def _handle_invalid(
    x: np.ndarray, mask: np.ndarray | None, options: dict[str, Any], counters: Counters, message: str
) -> np.ndarray:
    if mask is None:
        return x
    bad = int(np.count_nonzero(mask))
    if not bad:
        return x
    if options.get("invalid", "error") == "error":
        first = float(x[mask].flat[0])
        raise DataError(f"{message}, e.g. {first!r}")
    counters.invalid += bad
    return np.where(mask, np.nan, x)


def _is_number(value: Any) -> bool:
    """A number (NumPy's too), not a bool and not a numeric string."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _to_float(value: Any) -> float | None:
    """A number as a float (+-inf for an integer beyond float64); None for anything else."""
    if not _is_number(value):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _finite_option(options: dict[str, Any], key: str, flag: str, default: float) -> float:
    value = options.get(key, default)
    number = _to_float(value)
    if number is None:
        raise UsageError(f"{flag} must be a finite number, not {value!r}")
    if not math.isfinite(number):
        raise UsageError(f"{flag} must be finite, not {value!r}")
    return number


def _flag_option(options: dict[str, Any], key: str, flag: str) -> bool:
    value = options.get(key, False)
    if not isinstance(value, bool | np.bool_):  # bool("false") is True: no truthiness here
        raise UsageError(f"{flag} must be true or false, not {value!r}")
    return bool(value)


# Below 2**-1022 floats are subnormal and lose a bit per halving; from 2**-1034 down they
# keep fewer than 41 of their 53 bits, too few for the 1e-12 round trip the README promises.
_TINY = math.ldexp(1.0, -1034)
_HUGE = float(np.finfo(np.float64).max)


def _usable_factor(value: float) -> bool:
    """Whether a width or a scale factor is finite and not so deep in the subnormals (or
    flushed to 0) that it has lost its precision."""
    return math.isfinite(value) and abs(value) >= _TINY


def _raise_fit_problem(column: str, problem: tuple[str, str] | None) -> None:
    if problem is not None:
        what, fix = problem
        raise DataError(f"column {column!r} {what}" + (f"; {fix}" if fix else ""))


def _require_values(column: str, s: ColumnStats, method: str) -> None:
    if s.count == 0:
        raise DataError(f"column {column!r} has no finite values to fit {method} on")


class MinMax(Method):
    name = "minmax"
    flags = {"range": "--range", "clip": "--clip"}
    forward_text = "(x - min) / (max - min) * (hi - lo) + lo"
    inverse_text = "(y - lo) / (hi - lo) * (max - min) + min"
    fitted_text = "min, max"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        rng = options.get("range", (0.0, 1.0))
        bounds = [_to_float(v) for v in rng] if isinstance(rng, list | tuple) else []
        if len(bounds) != 2 or None in bounds:
            raise UsageError(f"--range needs two numbers LO HI, not {rng!r}")
        lo, hi = bounds
        assert lo is not None and hi is not None  # for mypy: checked just above
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise UsageError(f"--range needs finite LO < HI, not {rng[0]!r} {rng[1]!r}")
        if not _usable_factor(hi - lo):  # 0 5e-324 would map every value to LO
            raise UsageError(
                f"--range {rng[0]!r} {rng[1]!r} is {hi - lo!r} wide; float64 scales only to widths "
                f"from {_TINY:.3g} to {_HUGE:.3g}"
            )
        out["range"] = [lo, hi]
        out["clip"] = _flag_option(options, "clip", "--clip")
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
            return f"spans {mn!r} to {mx!r}, a range that overflows float64", "rescale it first (e.g. -m log or atan)"
        if span > 0 and not _usable_factor((hi - lo) / span):
            how = "overflows" if (hi - lo) / span > 1 else "underflows"
            return (
                f"spans {'only ' if how == 'overflows' else ''}{span!r}; mapping that to the range "
                f"[{lo!r}, {hi!r}] {how} float64",
                "rescale it first or choose another --range",
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


class ZScore(Method):
    name = "zscore"
    flags = {"ddof": "--ddof"}
    forward_text = "(x - mean) / std"
    inverse_text = "y * std + mean"
    fitted_text = "mean, std (ddof 0 unless --ddof)"

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        ddof = options.get("ddof", 0)
        if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
            raise UsageError(f"--ddof must be a whole number >= 0, not {ddof!r}")
        out["ddof"] = ddof
        return out

    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, float]:
        _require_values(column, g_stats, self.name)
        ddof = options["ddof"]
        if g_stats.count <= ddof:
            raise DataError(f"column {column!r} has {g_stats.count} values; std with --ddof {ddof} needs more")
        std = g_stats.std(ddof)
        if not math.isfinite(std):
            raise DataError(
                f"column {column!r} has a standard deviation that overflows float64 (values near "
                f"{max(abs(g_stats.min), abs(g_stats.max)):.3g}); rescale it first (e.g. -m log or atan)"
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


class Log(Method):
    name = "log"
    flags = {"base": "--base", "offset": "--log-offset", "normalize": "--log-normalize"}
    forward_text = "log_base(x + offset), / log_base(max + offset) with --log-normalize"
    inverse_text = "base ** y - offset (y * log_base(max + offset) first when normalized)"
    fitted_text = "max when normalized, else nothing"
    domain_text = "x + offset > 0"
    nonlinear = True

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out = super().check_options(options)
        base = _finite_option(options, "base", "--base", 10.0)
        if not base > 1:
            raise UsageError(f"--base must be > 1, not {base!r}")
        out["base"] = base
        out["offset"] = _finite_option(options, "offset", "--log-offset", 0.0)
        out["normalize"] = _flag_option(options, "normalize", "--log-normalize")
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

    def invalid_message(self, column: str, options: dict[str, Any]) -> str:
        bound = repr(-options["offset"]) if options["offset"] else "0"
        return (
            f"column {column!r} has values <= {bound}; log needs x + offset > 0 "
            "(use --log-offset, --invalid nan or another method)"
        )

    def fit(self, column: str, x_stats: ColumnStats, g_stats: ColumnStats, options: dict[str, Any]) -> dict[str, float]:
        if g_stats.infs > x_stats.infs:
            raise DataError(
                f"column {column!r}: x + offset overflows float64 for {g_stats.infs - x_stats.infs} value(s); "
                "use a smaller --log-offset"
            )
        if not options["normalize"]:
            return {}
        _require_values(column, g_stats, self.name)
        if not g_stats.max > 0:
            raise DataError(
                f"column {column!r} has max + offset <= 1; --log-normalize maps [1, max] to [0, 1] and needs max > 1"
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
                "use a smaller --log-offset",
            )
        return None

    def affine(self, options: dict[str, Any], fitted: dict[str, float]) -> Affine:
        if options["normalize"]:
            with np.errstate(over="ignore"):
                log_max = float(self.g(np.float64(fitted["max"]), options))
            return Affine(0.0, 1.0 / log_max, 0.0)
        return Affine()


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

    def invalid_message(self, column: str, options: dict[str, Any]) -> str:
        return (
            f"column {column!r} has values equal to -1, where 1/(1+x) is undefined "
            "(use --invalid nan or another method)"
        )


METHODS: dict[str, Method] = {m.name: m for m in (MinMax(), ZScore(), Log(), Atan(), Reciprocal())}


def get_method(name: str) -> Method:
    """The method called `name`, or a UsageError listing the known ones."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
