"""Mergeable summaries beyond moments, in pure NumPy: quantiles, histograms and value counts.

`QuantileSketch` keeps every value while they fit its budget, so its quantiles are exact
(the same numbers as `np.quantile`, linear interpolation, as pandas and R's default); past
the budget it becomes a compactor sketch of bounded size and states a rank error bound.

The sketch is the deterministic relative of KLL (Karnin, Lang and Liberty 2016): level h
holds values that each stand for 2**h input values; when a level has `k` values it is sorted
and every other value moves up a level (alternately the odd and the even ones). One such
compaction moves the weighted rank of any value by at most 2**h, so the sum of the weights
of all compactions bounds the rank error of every quantile. That bound is tracked exactly,
merged by addition, and reported as `rank_error` (a fraction of the count): it is a
guarantee, not an estimate, and in practice the alternating offsets make the real error far
smaller. For n values the bound is at most about log2(n / k) / k (0.2% for k = 8192 and a
billion values); memory is k values per level, log2(n / k) levels.

`Histogram` counts values in bins of a power-of-two grid that widens with the range: merged
exactly (integer counts on a shared grid), so streamed equals whole.

`ValueCounts` counts distinct values (text, dates) exactly up to a cap of distinct values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from normcli.stats import ColumnStats, finite_values

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_EXACT_LIMIT",
    "DEFAULT_K",
    "Histogram",
    "QuantileSketch",
    "ValueCounts",
    "resample",
    "summarize",
]

DEFAULT_K = 8192  # values per level once the sketch compacts
DEFAULT_EXACT_LIMIT = 1 << 20  # values kept as they are (8 MiB of float64) before compacting


class QuantileSketch:
    """Quantiles of a stream of floats: exact up to `exact_limit` values, then a mergeable
    compactor sketch with a stated rank error. NaN and +-inf are left out (as in the moments)."""

    def __init__(self, k: int = DEFAULT_K, exact_limit: int = DEFAULT_EXACT_LIMIT) -> None:
        if k < 2 or k % 2:
            raise ValueError(f"k must be an even number >= 2, not {k!r}")
        self.k = k
        self.exact_limit = max(int(exact_limit), k)
        self.count = 0
        self._exact: list[np.ndarray] | None = []  # every value, while exact
        self._levels: list[np.ndarray] = []  # level h: values of weight 2**h
        self._error = 0  # absolute rank error bound: sum of the weights of all compactions
        self._flips = 0  # alternates which half a compaction keeps

    @property
    def exact(self) -> bool:
        return self._exact is not None

    @property
    def rank_error(self) -> float:
        """The bound on |true rank - sketch rank| of any quantile, as a fraction of the count
        (0 while exact)."""
        return self._error / self.count if self.count else 0.0

    def update(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        self.update_finite(x[np.isfinite(x)])

    def update_finite(self, x: np.ndarray) -> None:
        """`update` with a 1-d float64 array of finite values (kept as a copy while exact)."""
        if not x.size:
            return
        self.count += int(x.size)
        if self._exact is not None:
            self._exact.append(x.copy())
            if self.count <= self.exact_limit:
                return
            x = np.concatenate(self._exact)
            self._exact = None
        self._add(0, x)

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """A sketch of both streams (this one and `other` are left as they are)."""
        out = QuantileSketch(self.k, self.exact_limit)
        out.count = self.count + other.count
        out._error = self._error + other._error
        out._flips = self._flips + other._flips
        if self._exact is not None and other._exact is not None and out.count <= out.exact_limit:
            out._exact = [*self._exact, *other._exact]
            return out
        out._exact = None
        for sketch in (self, other):
            if sketch._exact is not None:
                if sketch._exact:
                    out._add(0, np.concatenate(sketch._exact))
            else:
                for h, level in enumerate(sketch._levels):
                    out._add(h, level)
        return out

    def _add(self, h: int, values: np.ndarray) -> None:
        """Put `values` of weight 2**h in level h and compact upwards while levels are full."""
        while len(self._levels) <= h:
            self._levels.append(np.empty(0))
        level = np.concatenate([self._levels[h], values]) if self._levels[h].size else values
        while level.size >= self.k:
            level = np.sort(level)
            size = level.size - level.size % 2  # an odd one out stays behind
            keep, rest = level[:size], level[size:]
            self._flips += 1
            up = keep[self._flips % 2 :: 2]
            self._error += 1 << h
            self._levels[h] = rest
            h += 1
            while len(self._levels) <= h:
                self._levels.append(np.empty(0))
            level = np.concatenate([self._levels[h], up]) if self._levels[h].size else up
        self._levels[h] = level

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        """The `qs` quantiles (0 <= q <= 1); NaN for each when there are no values."""
        if not self.count:
            return [math.nan for _ in qs]
        if self._exact is not None:
            return _exact_quantiles(np.concatenate(self._exact), qs)
        values = np.concatenate(self._levels)
        weights = np.concatenate([np.full(level.size, float(1 << h)) for h, level in enumerate(self._levels)])
        order = np.argsort(values, kind="stable")
        values, cum = values[order], np.cumsum(weights[order])
        total = cum[-1]
        out = []
        for q in qs:
            i = int(np.searchsorted(cum, q * total, side="left"))
            out.append(float(values[min(i, values.size - 1)]))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the levels as lists of floats (or the exact values), count and error."""
        if self._exact is not None:
            values = np.concatenate(self._exact) if self._exact else np.empty(0)
            return {"k": self.k, "count": self.count, "exact": values.tolist()}
        return {
            "k": self.k,
            "count": self.count,
            "rank_error_weight": self._error,
            "levels": [level.tolist() for level in self._levels],
        }

    # --- added for the scalers (robust, quantile) that store and merge sketches ------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantileSketch:
        """The sketch `to_dict` wrote (ValueError when it is not one: wrong types, a count that
        disagrees with the values, non-finite values)."""
        k = data["k"]
        count = data["count"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (k, count)) or count < 0:
            raise ValueError("k and count must be whole numbers")
        out = cls(k)
        out.count = count
        if "exact" in data:
            values = _finite_array(data["exact"])
            if values.size != count:
                raise ValueError(f"count {count} disagrees with {values.size} values")
            out.exact_limit = max(out.exact_limit, count)
            out._exact = [values] if values.size else []
            return out
        weight = data["rank_error_weight"]
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= max(count, 0):
            raise ValueError("rank_error_weight must be a whole number between 0 and count")
        levels = [_finite_array(level) for level in data["levels"]]
        held = sum(level.size << h for h, level in enumerate(levels))
        if held != count:  # a compaction keeps the total weight
            raise ValueError(f"count {count} disagrees with the weight its levels hold ({held})")
        out._exact = None
        out._levels = levels
        out._error = weight
        return out

    def compacted(self, k: int) -> QuantileSketch:
        """A copy of at most about k values per level (this one when it is already that small);
        its rank error grows accordingly and is stated as always."""
        if self.count <= k and self._exact is not None:
            return self
        return QuantileSketch(k, k).merge(self)

    def weighted(self) -> tuple[np.ndarray, np.ndarray]:
        """The values the sketch holds and the weight (input values) each stands for."""
        if self._exact is not None:
            values = np.concatenate(self._exact) if self._exact else np.empty(0)
            return values, np.ones(values.size)
        if not self._levels:
            return np.empty(0), np.empty(0)
        weights = [np.full(level.size, float(1 << h)) for h, level in enumerate(self._levels)]
        return np.concatenate(self._levels), np.concatenate(weights)

    def exact_values(self) -> np.ndarray | None:
        """Every value seen (in arrival order) while the sketch is exact, else None."""
        if self._exact is None:
            return None
        return np.concatenate(self._exact) if self._exact else np.empty(0)


def _finite_array(values: Any) -> np.ndarray:
    if not isinstance(values, list):
        raise ValueError("values must be a list of numbers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ValueError("values must be numbers")
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError("values must be finite")
    return array


@dataclass
class ValueCounts:
    """How often each value occurs, exactly, for up to `cap` distinct values; past that the
    distinct count is a lower bound and the most common value is not known."""

    cap: int = 100_000
    counts: Counter = field(default_factory=Counter)
    count: int = 0  # non-null values seen
    overflowed: bool = False

    def update(self, values: Iterable[Hashable], counts: Iterable[int] | None = None) -> None:
        """Add values (with their multiplicities, if given)."""
        pairs = zip(values, counts, strict=True) if counts is not None else ((v, 1) for v in values)
        for value, n in pairs:
            self.count += n
            if value in self.counts or len(self.counts) < self.cap:
                self.counts[value] += n
            else:
                self.overflowed = True

    def merge(self, other: ValueCounts) -> ValueCounts:
        out = ValueCounts(self.cap, Counter(self.counts), 0, self.overflowed or other.overflowed)
        out.update(other.counts.keys(), other.counts.values())
        out.count = self.count + other.count
        return out

    @property
    def distinct(self) -> int:
        return len(self.counts)

    def most_common(self) -> tuple[Hashable, int] | None:
        """The most common value and its count (ties: the first seen); None when unknown."""
        if self.overflowed or not self.counts:
            return None
        return self.counts.most_common(1)[0]


# --- mergeable histograms --------------------------------------------------------------------

DEFAULT_BINS = 64  # bins a histogram keeps at most (a scaler file stores them: a few hundred bytes)
_INDEX_BITS = 50  # values are at most 2**50 bins from zero, so bin indices are exact int64


def _exponent(magnitude: float) -> int:
    """The binary exponent of a magnitude (0 counts as the smallest normal one), monotone in it."""
    return math.frexp(magnitude)[1] if magnitude > 0 else -1021


def _bin(value: float, exponent: int) -> int:
    """The bin of one value on the grid of width 2**exponent (see Histogram.update)."""
    scaled = math.ldexp(value, -exponent)
    return -1 if scaled == 0 and value < 0 else math.floor(scaled)


class Histogram:
    """Counts of finite values in bins of width 2**exponent on one grid shared by every
    histogram: bin i holds [i * w, (i + 1) * w). The width is the smallest power of two that
    puts every value within `max_bins` bins (and no value over 2**50 bins from zero), so it
    grows as the range does (adaptive range). Coarsening a power-of-two grid regroups whole
    bins, so a merge is exact: merging the histograms of batches gives the very counts of the
    whole data, whatever the split. NaN and +-inf are counted apart, not binned."""

    def __init__(self, max_bins: int = DEFAULT_BINS) -> None:
        if max_bins < 2:
            raise ValueError(f"max_bins must be >= 2, not {max_bins!r}")
        self.max_bins = max_bins
        self.exponent: int | None = None  # None: no finite value yet
        self.first = 0  # index of the first bin
        self.counts = np.zeros(0, dtype=np.int64)
        self.nulls = 0
        self.neg_inf = 0
        self.pos_inf = 0
        self.min = math.inf  # of the finite values: the summary's outer edges
        self.max = -math.inf

    @property
    def count(self) -> int:
        """Finite values binned."""
        return int(self.counts.sum())

    @property
    def edges(self) -> np.ndarray:
        """Bin edges (len(counts) + 1 of them), exact multiples of the width."""
        if self.exponent is None:
            return np.zeros(0)
        with np.errstate(over="ignore"):
            edges = np.ldexp(np.arange(self.first, self.first + self.counts.size + 1, dtype=np.float64), self.exponent)
        big = np.finfo(np.float64).max  # the last edge of a value near 2**1024 would be inf
        return np.clip(edges, -big, big)

    def update(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        finite = np.isfinite(x)
        if not finite.all():
            self.nulls += int(np.count_nonzero(np.isnan(x)))
            self.pos_inf += int(np.count_nonzero(x == np.inf))
            self.neg_inf += int(np.count_nonzero(x == -np.inf))
            x = x[finite]
        if x.size:
            self.update_finite(x, float(x.min()), float(x.max()))

    def update_finite(self, x: np.ndarray, lo: float, hi: float) -> None:
        """`update` with a 1-d float64 array of finite values (at least one) whose min and max
        are `lo` and `hi` (so a caller that has them saves the passes)."""
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        # and bins no narrower than the smallest subnormal, so every edge is an exact float
        floor = max(_exponent(max(abs(lo), abs(hi))) - _INDEX_BITS, -1074)
        spread = hi / 2 - lo / 2  # half the range: never overflows
        e = max(floor, _exponent(spread / self.max_bins) if spread > 0 else floor)
        while _bin(hi, e) - _bin(lo, e) + 1 > self.max_bins:
            e += 1
        first = _bin(lo, e)
        # times 2**-e: exact, and faster than ldexp while 2**-e is a normal float
        scaled = x * math.ldexp(1.0, -e) if -1022 <= -e <= 1023 else np.ldexp(x, -e)
        if e > 0 and lo < 0:  # bins wider than 1: a tiny negative value may underflow to -0.0, but is in bin -1
            zero = scaled == 0
            if zero.any():
                scaled[zero & (x < 0)] = -0.5
        np.floor(scaled, out=scaled)
        scaled -= first  # small integers now, exact in float64
        batch = Histogram(self.max_bins)
        batch.exponent, batch.first = e, first
        batch.counts = np.bincount(scaled.astype(np.intp), minlength=_bin(hi, e) - first + 1).astype(np.int64)
        self._absorb(batch)

    def _coarsened(self, exponent: int) -> tuple[int, np.ndarray]:
        """(first bin, counts) of this histogram regrouped on the grid of width 2**exponent."""
        assert self.exponent is not None
        shift = exponent - self.exponent
        if shift == 0:  # already on that grid (the common case when merging batches)
            return self.first, self.counts
        index = np.arange(self.first, self.first + self.counts.size, dtype=np.int64) >> shift
        first = int(index[0])
        return first, np.bincount(index - first, weights=self.counts, minlength=int(index[-1]) - first + 1).astype(
            np.int64
        )

    def _absorb(self, other: Histogram) -> None:
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        self.nulls += other.nulls
        self.pos_inf += other.pos_inf
        self.neg_inf += other.neg_inf
        if other.exponent is None:
            return
        if self.exponent is None:
            self.exponent, self.first, self.counts = other.exponent, other.first, other.counts.copy()
            return
        e = max(self.exponent, other.exponent)
        while True:
            (fa, ca), (fb, cb) = self._coarsened(e), other._coarsened(e)
            first, last = min(fa, fb), max(fa + ca.size, fb + cb.size)
            if last - first <= self.max_bins:
                break
            e += 1
        counts = np.zeros(last - first, dtype=np.int64)
        counts[fa - first : fa - first + ca.size] += ca
        counts[fb - first : fb - first + cb.size] += cb
        self.exponent, self.first, self.counts = e, first, counts

    def merge(self, other: Histogram) -> Histogram:
        """A histogram of both streams (this one and `other` are left as they are)."""
        out = Histogram(max(self.max_bins, other.max_bins))
        out._absorb(self)
        out._absorb(other)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the grid (width exponent, first bin), counts, and the unbinned values."""
        return {
            "width_log2": self.exponent,
            "first_bin": self.first,
            "counts": self.counts.tolist(),
            "nulls": self.nulls,
            "neg_inf": self.neg_inf,
            "pos_inf": self.pos_inf,
            **({"min": self.min, "max": self.max} if self.exponent is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], max_bins: int = DEFAULT_BINS) -> Histogram:
        """Rebuild a histogram saved with `to_dict` (ValueError when it is not one)."""
        out = cls(max(max_bins, len(d["counts"])))
        e, first, counts = d["width_log2"], d["first_bin"], d["counts"]
        for key in ("nulls", "neg_inf", "pos_inf"):
            v = d.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{key} must be a count, not {v!r}")
            setattr(out, key, v)
        if e is None:
            if counts:
                raise ValueError("counts without a bin width")
            return out
        if isinstance(e, bool) or not isinstance(e, int) or not -1100 <= e <= 1100:
            raise ValueError(f"width_log2 must be an integer exponent, not {e!r}")
        if isinstance(first, bool) or not isinstance(first, int) or abs(first) > 1 << 52:
            raise ValueError(f"first_bin must be an integer, not {first!r}")
        if not isinstance(counts, list) or not counts:
            raise ValueError("counts must be a non-empty list")
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
            raise ValueError("counts must be counts (integers >= 0)")
        out.exponent, out.first, out.counts = e, first, np.asarray(counts, dtype=np.int64)
        edges = out.edges
        lo, hi = d.get("min", edges[0]), d.get("max", edges[-1])
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)):
            raise ValueError("min and max must be numbers")
        if not edges[0] <= lo <= hi <= edges[-1]:
            raise ValueError("min and max must lie within the bins")
        out.min, out.max = float(lo), float(hi)
        return out

    def summary(self) -> dict[str, Any]:
        """For --stats-json: bin edges and counts, and the values left out of the bins. The
        outer edges are the smallest and largest value (the grid's lie a little beyond)."""
        edges = self.edges
        if edges.size:
            edges[0], edges[-1] = self.min, self.max
        return {
            "edges": edges.tolist(),
            "counts": self.counts.tolist(),
            "nulls": self.nulls,
            "infs": self.neg_inf + self.pos_inf,
        }


def _exact_quantiles(values: np.ndarray, qs: Sequence[float]) -> list[float]:
    """np.quantile's linear interpolation, without its overflow: NumPy interpolates with
    `a + (b - a) * t`, and `b - a` is infinite between -1e308 and 1e308, so such a quantile came
    out inf or NaN (with a RuntimeWarning). There `a * (1 - t) + b * t` is used instead."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.quantile(values, qs)
    bad = ~np.isfinite(out)
    if bad.any():
        ordered = np.sort(values)
        for i in np.flatnonzero(bad):
            pos = float(qs[int(i)]) * (ordered.size - 1)
            lo = math.floor(pos)
            a, b, t = ordered[lo], ordered[min(lo + 1, ordered.size - 1)], pos - lo
            if np.isfinite(a) and np.isfinite(b):
                out[i] = a * (1 - t) + b * t
    return [float(v) for v in out]


def resample(edges: np.ndarray, counts: np.ndarray, bins: int, lo: float, hi: float) -> np.ndarray:
    """Counts of a histogram spread over `bins` equal bins of [lo, hi], each source bin's
    count shared in proportion to its overlap (for display: the shape, not exact counts)."""
    edges = np.asarray(edges, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    out = np.zeros(bins)
    if not counts.size or not counts.sum():
        return out
    if not hi > lo:
        out[bins // 2] = counts.sum()
        return out
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    t = np.linspace(0.0, 1.0, bins + 1)
    grid = lo * (1 - t) + hi * t  # not np.linspace(lo, hi): hi - lo overflows between -1e308 and 1e308
    # the cumulative count at each display edge, linear within a source bin
    at = np.interp(grid, edges, cum)
    return np.diff(at)


def summarize(values: np.ndarray, hist: Histogram, sketch: QuantileSketch | None = None) -> ColumnStats:
    """ColumnStats.of(values), with `values` added to `hist` (and to `sketch`) on the way: one
    pass to set the NaN and infinities apart and one for the min and max serve them all."""
    whole, x, nulls, infs = finite_values(values)
    if sketch is not None:
        sketch.update_finite(x)
    hist.nulls += nulls
    if infs:
        pos = int(np.count_nonzero(whole == np.inf))
        hist.pos_inf += pos
        hist.neg_inf += infs - pos
    if x.size == 0:
        return ColumnStats(nulls=nulls, infs=infs)
    lo, hi = float(x.min()), float(x.max())
    hist.update_finite(x, lo, hi)
    return ColumnStats.of_finite(x, lo, hi, nulls, infs)
