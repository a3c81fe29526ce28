"""Mergeable summaries beyond moments, in pure NumPy: quantiles and value counts.

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

`ValueCounts` counts distinct values (text, dates) exactly up to a cap of distinct values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DEFAULT_EXACT_LIMIT", "DEFAULT_K", "QuantileSketch", "ValueCounts"]

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
        x = x[np.isfinite(x)]
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
            values = np.concatenate(self._exact)
            return [float(v) for v in np.quantile(values, qs)]
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
