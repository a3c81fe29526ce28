"""Has new data drifted from the data a scaler was fitted on? Pure NumPy, no I/O.

The scaler keeps, per column, the statistics of the fitted data and its histogram (a
`Histogram` of at most 64 bins on a power-of-two grid). `DriftCounter` streams new values
into those very bins (plus one bin below and one above them), so every figure below is
computed from exact counts of the new data on the fitted bins:

- null share: NaN (and +-inf) among all values, now and at fit time;
- mean shift: (new mean - fitted mean) / fitted std (population std of the fitted data);
- outside: the share of new finite values below the fitted min or above the fitted max;
- PSI, the population stability index, sum (a - e) * ln(a / e) over about 10 bins that each
  hold a tenth of the fitted data (fitted bins grouped at the deciles), plus the bins below
  and above the fitted range; e and a are the fitted and new shares, floored at PSI_FLOOR so
  an empty bin counts as a small share instead of an infinite term;
- KS: the Kolmogorov-Smirnov distance max |F_fit - F_new| between the two cumulative
  distributions, taken at the edges of the fitted bins (so a lower bound of the exact
  statistic, within the mass of one fitted bin of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from normcli.sketch import Histogram
from normcli.stats import ColumnStats

__all__ = ["PSI_BINS", "PSI_FLOOR", "ColumnDrift", "DriftCounter", "Thresholds", "psi", "psi_groups"]

PSI_BINS = 10  # PSI compares the shares of the fitted deciles
PSI_FLOOR = 1e-4  # a share below this counts as this in PSI's logarithm


@dataclass(frozen=True)
class Thresholds:
    """A column drifts when a figure exceeds its threshold (None: not checked)."""

    max_psi: float | None = 0.2
    max_ks: float | None = None
    max_null_increase: float | None = 0.05


class DriftCounter:
    """New values of one column counted on the fitted bins, and their moments."""

    def __init__(self, profile: Histogram, fitted: ColumnStats) -> None:
        self.profile = profile
        self.fitted = fitted
        self.edges = profile.edges  # the grid's edges: every fitted value lies inside
        self.counts = np.zeros(profile.counts.size + 2, dtype=np.int64)  # below, each bin, at or above the last edge
        self.stats = ColumnStats()
        self.outside = 0

    def update(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        self.stats = self.stats.merge(ColumnStats.of(x))
        x = x[np.isfinite(x)]
        if not x.size:
            return
        if self.edges.size:
            self.counts += np.bincount(np.searchsorted(self.edges, x, side="right"), minlength=self.counts.size)
        else:  # no finite value was fitted: everything is outside
            self.counts[0] += x.size
        if self.fitted.count:
            self.outside += int(np.count_nonzero((x < self.fitted.min) | (x > self.fitted.max)))
        else:
            self.outside += int(x.size)

    def reference(self) -> np.ndarray:
        """The fitted counts on the same cells as `counts` (nothing below or above)."""
        return np.concatenate([[0], self.profile.counts, [0]]).astype(np.int64)


def psi_groups(reference: np.ndarray, bins: int = PSI_BINS) -> list[int]:
    """Where to cut the cells (below, fitted bins..., above) into PSI's groups: after the
    cell below, at the fitted deciles (whole fitted bins), before the cell above. Returns
    the start index of each group."""
    inner = reference[1:-1]
    total = inner.sum()
    starts = [0, 1]
    if total:
        cum = np.cumsum(inner)
        for k in range(1, bins):
            cut = int(np.searchsorted(cum, total * k / bins, side="left")) + 2  # after the bin that crosses
            if starts[-1] < cut < reference.size - 1:
                starts.append(cut)
    starts.append(reference.size - 1)
    return sorted(set(starts))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same groups."""
    e = np.maximum(expected / max(expected.sum(), 1), PSI_FLOOR)
    a = np.maximum(actual / max(actual.sum(), 1), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class ColumnDrift:
    """The drift figures of one column and which thresholds it exceeds."""

    name: str
    rows: int
    null_share_fit: float
    null_share: float
    mean_shift: float  # in fitted standard deviations
    outside: float
    psi: float
    ks: float
    reasons: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "rows": self.rows,
            "null_share_fit": self.null_share_fit,
            "null_share": self.null_share,
            "null_increase": self.null_share - self.null_share_fit,
            "mean_shift_std": num(self.mean_shift),
            "outside_fitted_range": self.outside,
            "psi": self.psi,
            "ks": self.ks,
            "drift": self.drifted,
            "reasons": self.reasons,
        }


def _null_share(s: ColumnStats) -> float:
    total = s.count + s.nulls + s.infs
    return (s.nulls + s.infs) / total if total else 0.0


def evaluate(name: str, counter: DriftCounter, thresholds: Thresholds) -> ColumnDrift:
    """The figures of one column's new data against its fitted profile."""
    new, fit = counter.stats, counter.fitted
    actual, expected = counter.counts, counter.reference()
    groups = psi_groups(expected)
    sums = np.add.reduceat  # counts per PSI group
    value = psi(sums(expected, groups), sums(actual, groups)) if actual.sum() else math.nan
    if actual.sum() and expected.sum():
        ks = float(np.max(np.abs(np.cumsum(expected) / expected.sum() - np.cumsum(actual) / actual.sum())))
    else:
        ks = math.nan
    std = fit.std()
    if not new.count or not fit.count:
        shift = math.nan
    elif std > 0:
        shift = (new.mean - fit.mean) / std
    else:
        shift = 0.0 if new.mean == fit.mean else math.copysign(math.inf, new.mean - fit.mean)
    drift = ColumnDrift(
        name=name,
        rows=new.count + new.nulls + new.infs,
        null_share_fit=_null_share(fit),
        null_share=_null_share(new),
        mean_shift=shift,
        outside=counter.outside / new.count if new.count else 0.0,
        psi=value,
        ks=ks,
    )
    t = thresholds
    if t.max_psi is not None and not value <= t.max_psi:
        drift.reasons.append(f"psi {value:.3g} > {t.max_psi:g}" if math.isfinite(value) else "no finite values")
    if t.max_ks is not None and math.isfinite(ks) and ks > t.max_ks:
        drift.reasons.append(f"ks {ks:.3g} > {t.max_ks:g}")
    increase = drift.null_share - drift.null_share_fit
    if t.max_null_increase is not None and increase > t.max_null_increase:
        drift.reasons.append(f"nulls +{increase:.1%} > {t.max_null_increase:.1%}")
    return drift
