"""What every scaling method is, in pure NumPy: `Method` and its hooks, `Affine`, `Counters`.

Every method is y = (g(x) - shift) * scale + offset: an elementwise base function g
(identity, log, atan, reciprocal) followed by an affine map fitted from the statistics of
g(x). That one shape gives each method its inverse, lets the fit compute the "after"
statistics from the "before" ones without a second pass, and keeps the subtraction of a
large centre (a column at 1e9) ahead of the scaling, where it loses no precision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from normcli.errors import DataError, OptionError
from normcli.stats import ColumnStats

__all__ = ["Affine", "Counters", "Method", "counter_notes", "std_with_ddof"]

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


def counter_notes(counters: Mapping[str, Counters]) -> list[str]:
    """Sentences for what a transform had to do to some values."""
    notes = []
    for name, c in counters.items():
        if c.out_of_range:
            notes.append(f"column {name!r}: {c.out_of_range:,} value(s) outside the fitted range (kept)")
        if c.clipped:
            notes.append(f"column {name!r}: {c.clipped:,} value(s) outside the fitted range were clipped")
        if c.invalid:
            notes.append(f"column {name!r}: {c.invalid:,} value(s) outside the method's domain became NaN")
    return notes


class Method:
    """A scaling method. Subclasses set the formula texts and override the hooks. The texts
    name options as `{fields}` (`{ddof}`), which the command line shows as its flags."""

    name: ClassVar[str]
    forward_text: ClassVar[str]
    inverse_text: ClassVar[str]
    fitted_text: ClassVar[str] = "nothing"
    domain_text: ClassVar[str] = "all x"
    nonlinear: ClassVar[bool] = False
    finite_only: ClassVar[bool] = False  # whether an infinite input value makes the fit impossible
    option_names: ClassVar[tuple[str, ...]] = ()  # this method's own options (the CLI knows their flags)
    needs: ClassVar[str] = "moments"  # what the fitter gathers: moments, or (methods_more) quantiles or values
    sklearn: ClassVar[str] = "-"  # the scikit-learn class this method equals, for the method table

    # --- options --------------------------------------------------------------------
    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate and complete this method's options (raising UsageError), returning the
        dict stored in the scaler file."""
        invalid = options.get("invalid", "error")
        if not isinstance(invalid, str) or invalid not in INVALID_POLICIES:
            raise OptionError("invalid", invalid, f"one of {', '.join(INVALID_POLICIES)}")
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

    def invalid_message(self, column: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """What values outside the domain are, as an error template and its values."""
        return "column {column!r} has values outside the domain of {method_name} ({domain})", {
            "column": column,
            "method_name": self.name,
            "domain": self.domain_text,
        }

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

    # --- fitted values loaded from a scaler file ----------------------------------------
    def fitted_keys(self, options: dict[str, Any]) -> list[str]:
        """The names of the values `fit` returns with these options."""
        return []

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
            (
                "column {column!r} has values that {method_name} cannot produce, so they have no inverse",
                {"column": column, "method_name": self.name},
            ),
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
    x: np.ndarray,
    mask: np.ndarray | None,
    options: dict[str, Any],
    counters: Counters,
    message: tuple[str, dict[str, Any]],
) -> np.ndarray:
    if mask is None:
        return x
    bad = int(np.count_nonzero(mask))
    if not bad:
        return x
    if options.get("invalid", "error") == "error":
        first = float(x[mask].flat[0])
        template, values = message
        raise DataError.about(template + ", e.g. {first!r}", **values, first=first)
    counters.invalid += bad
    return np.where(mask, np.nan, x)


def _require_values(column: str, s: ColumnStats, method: str) -> None:
    if s.count == 0:
        raise DataError(f"column {column!r} has no finite values to fit {method} on")


def std_with_ddof(column: str, s: ColumnStats, ddof: int) -> float:
    """The column's std with `ddof` delta degrees of freedom (zscore, scale); an error when it
    has too few values for that ddof."""
    if s.count <= ddof:
        raise DataError.about(
            "column {column!r} has {count} values; std with {ddof} {n} needs more",
            column=column,
            count=s.count,
            n=ddof,
        )
    return s.std(ddof)
