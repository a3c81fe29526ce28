"""Mergeable per-column statistics: count, nulls, infinities, mean, M2, min, max.

A batch is summarised with a two-pass formula (mean, then the sum of squared deviations),
and summaries are combined with Chan et al.'s parallel update. Streaming a file batch by
batch therefore gives the same numbers (to rounding) as reading it whole, and a column
centred at 1e9 keeps its small variance: we never accumulate sum(x) and sum(x**2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["ColumnStats"]


@dataclass(frozen=True)
class ColumnStats:
    """Summary of one column. `count` counts finite values; NaN is a null; +-inf is counted
    apart and left out of mean, std, min and max so that one infinity does not hide the rest.

    The mean is kept as `shift + dmean`, where `shift` is a value of the column: sums run
    over x - shift, whose rounding errors scale with the spread of the data instead of its
    magnitude, so batches of a column at 1e9 with std 1 merge to the one-shot numbers."""

    count: int = 0
    nulls: int = 0
    infs: int = 0
    shift: float = 0.0
    dmean: float = math.nan
    m2: float = 0.0
    min: float = math.nan
    max: float = math.nan

    @property
    def mean(self) -> float:
        return self.shift + self.dmean

    @classmethod
    def of(cls, values: np.ndarray) -> ColumnStats:
        """Summarise an array of any shape (every element is one observation)."""
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        finite = np.isfinite(x)
        n = int(np.count_nonzero(finite))
        nulls = infs = 0
        if n != x.size:
            nulls = int(np.count_nonzero(np.isnan(x)))
            infs = x.size - n - nulls
            x = x[finite]
        if n == 0:
            return cls(nulls=nulls, infs=infs)
        lo, hi = float(x.min()), float(x.max())
        if max(abs(lo), abs(hi)) < 1e300:
            shift = float(x[0])
            d = x - shift
            dmean = float(d.mean())
        else:  # near the float64 limit x - shift may overflow: scale instead of shifting
            shift, magnitude = 0.0, max(abs(lo), abs(hi))
            d = x
            dmean = float((x / magnitude).mean()) * magnitude
        d = d - dmean
        with np.errstate(over="ignore"):  # M2 of values near 1e308 is inf; std says so
            m2 = float(np.dot(d, d))
        return cls(count=n, nulls=nulls, infs=infs, shift=shift, dmean=dmean, m2=m2, min=lo, max=hi)

    @classmethod
    def per_channel(cls, block: np.ndarray, axis: int) -> list[ColumnStats]:
        """Statistics of each index along `axis` (a channel), reducing over every other axis,
        vectorised for the common all-finite block; the same formulas as `of`."""
        block = np.asarray(block)
        channels = block.shape[axis]
        others = tuple(a for a in range(block.ndim) if a != axis)
        n = block.size // channels if channels else 0
        if n == 0:
            return [cls() for _ in range(channels)]
        if not np.isfinite(block).all():
            return [cls.of(np.take(block, c, axis=axis)) for c in range(channels)]
        lo = block.min(axis=others, keepdims=True).astype(np.float64)
        hi = block.max(axis=others, keepdims=True).astype(np.float64)
        if max(np.abs(lo).max(), np.abs(hi).max()) >= 1e300:
            return [cls.of(np.take(block, c, axis=axis)) for c in range(channels)]
        # the first value of each channel, shaped to broadcast against the block
        shift = np.expand_dims(block[(0,) * axis + (slice(None),) + (0,) * (block.ndim - axis - 1)], others)
        d = np.subtract(block, shift, dtype=np.float64)
        dmean = d.mean(axis=others, keepdims=True)
        d -= dmean
        m2 = np.square(d, out=d).sum(axis=others)
        shift, dmean, lo, hi = (v.reshape(-1) for v in (shift.astype(np.float64), dmean, lo, hi))
        return [
            cls(
                count=n,
                shift=float(shift[c]),
                dmean=float(dmean[c]),
                m2=float(m2[c]),
                min=float(lo[c]),
                max=float(hi[c]),
            )
            for c in range(channels)
        ]

    def merge(self, other: ColumnStats) -> ColumnStats:
        """The statistics of both batches together (Chan's parallel formula)."""
        nulls, infs = self.nulls + other.nulls, self.infs + other.infs
        if other.count == 0:
            return replace(self, nulls=nulls, infs=infs)
        if self.count == 0:
            return replace(other, nulls=nulls, infs=infs)
        n = self.count + other.count
        # other's mean relative to our shift; shifts are values of one column, so their
        # difference is small (and exact when they are within a factor of two).
        delta = (other.dmean + (other.shift - self.shift)) - self.dmean
        dmean = self.dmean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.count * other.count / n)
        return ColumnStats(
            count=n,
            nulls=nulls,
            infs=infs,
            shift=self.shift,
            dmean=dmean,
            m2=m2,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
        )

    def std(self, ddof: int = 0) -> float:
        """Standard deviation with `ddof` delta degrees of freedom (NaN when undefined)."""
        if self.count - ddof <= 0:
            return math.nan
        return math.sqrt(self.m2 / (self.count - ddof))

    def affine(self, shift: float, scale: float, offset: float) -> ColumnStats:
        """The statistics of (x - shift) * scale + offset, derived without touching the data."""
        if self.count == 0:
            return self
        lo = (self.min - shift) * scale + offset
        hi = (self.max - shift) * scale + offset
        return replace(
            self,
            shift=(self.shift - shift) * scale + offset,
            dmean=self.dmean * scale,
            m2=self.m2 * scale * scale,
            min=min(lo, hi),
            max=max(lo, hi),
        )

    def summary(self) -> dict[str, float | int | None]:
        """The user-facing numbers (count, nulls, infs, mean, std, min, max); None where
        a column has no finite value, so the result is valid JSON."""

        def num(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {
            "count": self.count,
            "nulls": self.nulls,
            "infs": self.infs,
            "mean": num(self.mean),
            "std": num(self.std()),
            "min": num(self.min),
            "max": num(self.max),
        }

    @classmethod
    def from_summary(cls, d: dict) -> ColumnStats:
        """Rebuild statistics saved with `summary()` (M2 recovered from std and count)."""
        count = int(d["count"])
        nan = math.nan

        def get(key: str) -> float:
            v = d.get(key)
            return nan if v is None else float(v)

        std, mean = get("std"), get("mean")
        return cls(
            count=count,
            nulls=int(d.get("nulls", 0)),
            infs=int(d.get("infs", 0)),
            shift=0.0 if math.isnan(mean) else mean,
            dmean=nan if math.isnan(mean) else 0.0,
            m2=0.0 if count == 0 or math.isnan(std) else std * std * count,
            min=get("min"),
            max=get("max"),
        )
