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

__all__ = ["ChannelStats", "ColumnStats", "finite_values"]

# Squared deviations of values below this stay finite in float64; beyond it, work in units.
_SAFE_MAGNITUDE = 1e150
# ...and those of values above this keep full precision; below it (squares would be
# subnormal, or zero), work in units too.
_TINY_MAGNITUDE = 1e-140


def _unit_of(magnitude: float) -> float:
    """1, or a power of two near `magnitude` for values whose squares float64 cannot hold."""
    if magnitude >= _SAFE_MAGNITUDE or 0 < magnitude < _TINY_MAGNITUDE:
        return _unit_for(magnitude)
    return 1.0


def _unit_for(magnitude: float) -> float:
    """A power of two within a factor of two of `magnitude`: dividing by it is exact."""
    return math.ldexp(1.0, math.frexp(magnitude)[1] - 1)


def finite_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(the values as flat float64, the finite ones, how many are NaN, how many infinite)."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = np.isfinite(x)
    n = int(np.count_nonzero(finite))
    if n == x.size:
        return x, x, 0, 0
    nulls = int(np.count_nonzero(np.isnan(x)))
    return x, x[finite], nulls, x.size - n - nulls


@dataclass(frozen=True)
class ColumnStats:
    """Summary of one column. `count` counts finite values; NaN is a null; +-inf is counted
    apart and left out of mean, std, min and max so that one infinity does not hide the rest.

    The mean is kept as `shift + dmean`, where `shift` is a value of the column: sums run
    over x - shift, whose rounding errors scale with the spread of the data instead of its
    magnitude, so batches of a column at 1e9 with std 1 merge to the one-shot numbers.
    `shift`, `dmean` and `m2` are in units of `unit` (m2 in unit**2); `unit` is 1 except for
    values beyond 1e150 or within 1e-140 of zero, whose squares float64 cannot hold."""

    count: int = 0
    nulls: int = 0
    infs: int = 0
    shift: float = 0.0
    dmean: float = math.nan
    m2: float = 0.0
    min: float = math.nan
    max: float = math.nan
    unit: float = 1.0

    @property
    def mean(self) -> float:
        return (self.shift + self.dmean) * self.unit

    @classmethod
    def of(cls, values: np.ndarray) -> ColumnStats:
        """Summarise an array of any shape (every element is one observation)."""
        _, x, nulls, infs = finite_values(values)
        if x.size == 0:
            return cls(nulls=nulls, infs=infs)
        return cls.of_finite(x, float(x.min()), float(x.max()), nulls, infs)

    @classmethod
    def of_finite(cls, x: np.ndarray, lo: float, hi: float, nulls: int = 0, infs: int = 0) -> ColumnStats:
        """`of` for a 1-d float64 array of finite values (at least one) whose min and max are
        `lo` and `hi`, and `nulls` NaN and `infs` infinities that were taken out of it."""
        n = x.size
        unit = _unit_of(max(abs(lo), abs(hi)))
        if unit != 1.0:
            x = x / unit
        shift = float(x[0])
        d = x - shift
        dmean = float(d.mean())
        d -= dmean
        m2 = float(np.einsum("i,i->", d, d))  # not np.dot: BLAS threads spin against pyarrow's
        return cls(count=n, nulls=nulls, infs=infs, shift=shift, dmean=dmean, m2=m2, min=lo, max=hi, unit=unit)

    @classmethod
    def per_channel(cls, block: np.ndarray, axis: int) -> list[ColumnStats]:
        """Statistics of each index along `axis` (a channel), reducing over every other axis,
        vectorised for the common all-finite block: for float32 and float64 the tensor
        kernels' exact moments, for other dtypes `of`'s formulas on the whole block; a block
        with NaN, infinities or values beyond float64's squares goes through `of` per channel."""
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
        magnitude = np.maximum(np.abs(lo), np.abs(hi))
        if magnitude.max() >= _SAFE_MAGNITUDE or ((magnitude > 0) & (magnitude < _TINY_MAGNITUDE)).any():
            return [cls.of(np.take(block, c, axis=axis)) for c in range(channels)]
        if block.dtype in (np.float32, np.float64):
            # the tensor kernels' exact moments (as bn-stats takes them), tile by tile in
            # per-thread scratch on their thread pool. `of`'s formulas on the whole block
            # (kept below for integers) made a float64 copy of it: for a 64 MB float32 block,
            # 65 ms and a 128 MB temporary, against 28 ms here
            from normcli.tensor.norm import channel_moments

            moments = channel_moments(block, axis)
            shift, dmean, m2 = moments.shift, moments.dmean, moments.m2
        else:
            # the first value of each channel, shaped to broadcast against the block
            first = np.expand_dims(block[(0,) * axis + (slice(None),) + (0,) * (block.ndim - axis - 1)], others)
            d = np.subtract(block, first, dtype=np.float64)
            mean = d.mean(axis=others, keepdims=True)
            d -= mean
            m2 = np.square(d, out=d).sum(axis=others)
            shift, dmean = first.astype(np.float64).reshape(-1), mean.reshape(-1)
        lo, hi = lo.reshape(-1), hi.reshape(-1)
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

    def in_unit(self, unit: float) -> ColumnStats:
        """The same statistics expressed in another `unit` (exact for powers of two)."""
        if unit == self.unit or self.count == 0:
            return replace(self, unit=unit) if self.count == 0 else self
        r = self.unit / unit
        if math.isfinite(r) and r != 0:  # exact when both units are powers of two, as `of` makes them
            return replace(self, shift=self.shift * r, dmean=self.dmean * r, m2=self.m2 * r * r, unit=unit)

        # the units are too far apart for their ratio to be a float (1 and a subnormal one):
        # go through the values themselves, which lie within the new unit's reach
        def convert(v: float) -> float:
            return v * self.unit / unit

        return replace(
            self, shift=convert(self.shift), dmean=convert(self.dmean), m2=convert(math.sqrt(self.m2)) ** 2, unit=unit
        )

    def merge(self, other: ColumnStats) -> ColumnStats:
        """The statistics of both batches together (Chan's parallel formula)."""
        nulls, infs = self.nulls + other.nulls, self.infs + other.infs
        if other.count == 0:
            return replace(self, nulls=nulls, infs=infs)
        if self.count == 0:
            return replace(other, nulls=nulls, infs=infs)
        # the unit `of` would choose for both batches at once (a batch of zeros has unit 1
        # and must not impose it on a batch of tiny values)
        unit = _unit_of(max(abs(self.min), abs(self.max), abs(other.min), abs(other.max)))
        a, b = self.in_unit(unit), other.in_unit(unit)
        n = a.count + b.count
        # b's mean relative to a's shift; shifts are values of one column, so their
        # difference is small (and exact when they are within a factor of two).
        delta = (b.dmean + (b.shift - a.shift)) - a.dmean
        dmean = a.dmean + delta * (b.count / n)
        m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / n)
        return ColumnStats(
            count=n,
            nulls=nulls,
            infs=infs,
            shift=a.shift,
            dmean=dmean,
            m2=m2,
            min=min(a.min, b.min),
            max=max(a.max, b.max),
            unit=unit,
        )

    def std(self, ddof: int = 0) -> float:
        """Standard deviation with `ddof` delta degrees of freedom (NaN when undefined)."""
        if self.count - ddof <= 0:
            return math.nan
        return math.sqrt(self.m2 / (self.count - ddof)) * self.unit

    def affine(self, shift: float, scale: float, offset: float) -> ColumnStats:
        """The statistics of (x - shift) * scale + offset, derived without touching the data."""
        if self.count == 0:
            return self
        lo = (self.min - shift) * scale + offset
        hi = (self.max - shift) * scale + offset
        if scale == 0:
            return replace(self, shift=offset, dmean=0.0, m2=0.0, min=offset, max=offset, unit=1.0)
        if self.unit == 1.0 and math.isfinite(self.m2 * scale * scale):
            new_shift, new_dmean, m2, unit = (
                (self.shift - shift) * scale + offset,
                self.dmean * scale,
                self.m2 * scale * scale,
                1.0,
            )
        else:  # keep m2 in units: the unit scales with |scale|
            unit = self.unit * abs(scale)
            new_shift = ((self.shift * self.unit - shift) * scale + offset) / unit
            new_dmean, m2 = math.copysign(self.dmean, self.dmean * scale), self.m2
        return replace(self, shift=new_shift, dmean=new_dmean, m2=m2, min=min(lo, hi), max=max(lo, hi), unit=unit)

    def summary(self) -> dict[str, float | int | None]:
        """The user-facing numbers (count, nulls, infs, mean, std, min, max); None where a
        value is undefined (no finite values), so the result is always valid JSON."""

        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

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
        magnitude = max(abs(std), abs(mean))
        unit = _unit_of(magnitude) if math.isfinite(magnitude) else 1.0
        return cls(
            count=count,
            nulls=int(d.get("nulls", 0)),
            infs=int(d.get("infs", 0)),
            shift=0.0 if math.isnan(mean) else mean / unit,
            dmean=nan if math.isnan(mean) else 0.0,
            m2=0.0 if count == 0 or math.isnan(std) else (std / unit) ** 2 * count,
            min=get("min"),
            max=get("max"),
            unit=unit,
        )


@dataclass
class ChannelStats:
    """Statistics of each channel of an array, with its count of exact zeros."""

    stats: list[ColumnStats]
    zeros: list[int]

    @classmethod
    def empty(cls, channels: int) -> ChannelStats:
        return cls([ColumnStats() for _ in range(channels)], [0] * channels)

    def add(self, block: np.ndarray, channel_axis: int) -> None:
        """Merge the statistics of one block (any slab that holds every channel)."""
        others = tuple(a for a in range(block.ndim) if a != channel_axis)
        zeros = np.count_nonzero(block == 0, axis=others)
        for c, s in enumerate(ColumnStats.per_channel(block, channel_axis)):
            self.stats[c] = self.stats[c].merge(s)
            self.zeros[c] += int(zeros[c])

    @property
    def overall(self) -> ColumnStats:
        total = ColumnStats()
        for s in self.stats:
            total = total.merge(s)
        return total

    @property
    def overall_zeros(self) -> int:
        return sum(self.zeros)
