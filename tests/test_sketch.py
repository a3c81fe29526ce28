"""The quantile sketch: exact within its budget, a stated rank error past it, mergeable either way."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normcli.sketch import QuantileSketch, ValueCounts

QS = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0]


def sketch_of(parts: list[np.ndarray], k: int, exact_limit: int) -> QuantileSketch:
    """Each part sketched on its own, then merged in order (as batches or files would be)."""
    total = QuantileSketch(k, exact_limit)
    for part in parts:
        s = QuantileSketch(k, exact_limit)
        s.update(part)
        total = total.merge(s)
    return total


def split(values: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    return np.split(values, sorted({min(c, values.size) for c in cuts}))


def true_rank_interval(sorted_values: np.ndarray, v: float) -> tuple[int, int]:
    """Ranks a value v can stand for: (values < v, values <= v)."""
    return int(np.searchsorted(sorted_values, v, "left")), int(np.searchsorted(sorted_values, v, "right"))


values_st = st.lists(
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False) | st.integers(-5, 5).map(float),
    min_size=1,
    max_size=3000,
).map(np.array)


@settings(max_examples=60, deadline=None)
@given(values=values_st, cuts=st.lists(st.integers(0, 3000), max_size=6))
def test_within_the_budget_quantiles_are_numpys_whatever_the_split(values, cuts):
    s = sketch_of(split(values, cuts), k=64, exact_limit=10_000)
    assert s.exact and s.rank_error == 0 and s.count == values.size
    assert s.quantiles(QS) == [float(v) for v in np.quantile(values, QS)]


@settings(max_examples=60, deadline=None)
@given(values=values_st, cuts=st.lists(st.integers(0, 3000), max_size=6), k=st.sampled_from([8, 16, 64]))
def test_past_the_budget_every_quantile_is_within_the_stated_rank_error(values, cuts, k):
    s = sketch_of(split(values, cuts), k=k, exact_limit=k)
    n = values.size
    assert s.count == n
    if s.exact:  # no more values than one level holds: nothing was compacted
        assert s.quantiles(QS) == [float(v) for v in np.quantile(values, QS)]
        return
    bound = s.rank_error * n
    ordered = np.sort(values)
    for q, v in zip(QS, s.quantiles(QS), strict=True):
        lo, hi = true_rank_interval(ordered, v)
        target = q * n
        # v is a data value whose rank interval lies within the bound (plus one value of
        # rounding of the target rank itself) of the rank asked for
        assert v in set(values.tolist())
        assert lo - bound - 1 <= target <= hi + bound + 1, (q, v, lo, hi, target, bound)


def test_the_bound_is_small_and_the_memory_bounded_for_a_million_values():
    rng = np.random.default_rng(3)
    values = rng.lognormal(0, 2, 1_000_000)
    s = QuantileSketch(k=2048, exact_limit=2048)
    for part in np.array_split(values, 37):
        s.update(part)
    assert not s.exact and s.rank_error < 0.01
    assert sum(level.size for level in s._levels) < 2048 * 12
    ordered = np.sort(values)
    for q, v in zip(QS, s.quantiles(QS), strict=True):
        lo, hi = true_rank_interval(ordered, v)
        assert abs((lo + hi) / 2 - q * values.size) <= s.rank_error * values.size + 1


def test_nan_and_infinities_are_left_out_and_an_empty_sketch_has_nan_quantiles():
    s = QuantileSketch()
    assert all(np.isnan(s.quantiles([0.5])))
    s.update(np.array([np.nan, np.inf, 1.0, 3.0, -np.inf]))
    assert s.count == 2 and s.quantiles([0.5]) == [2.0]


def test_k_must_be_even():
    with pytest.raises(ValueError, match="even"):
        QuantileSketch(k=7)


def test_value_counts_merge_and_cap():
    a, b = ValueCounts(cap=3), ValueCounts(cap=3)
    a.update(["x", "y", "x"])
    b.update(["x", "z"], [2, 5])
    m = a.merge(b)
    assert (m.count, m.distinct, m.most_common()) == (10, 3, ("z", 5))
    m.update(["w"])
    assert m.overflowed and m.most_common() is None and m.count == 11


def test_quantiles_between_the_ends_of_the_float64_range_do_not_overflow():
    # np.quantile interpolates with a + (b - a) * t, and 1e308 - (-1e308) is inf: the median of
    # these two values came out NaN, with a RuntimeWarning that `normcli stats` turned into an error
    sketch = QuantileSketch()
    sketch.update(np.array([1e308, -1e308, 1e308, -1e308]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qs = sketch.quantiles([0.0, 0.25, 0.5, 5 / 6, 1.0])
    assert qs == [-1e308, -1e308, 0.0, 1e308 * (1 - 0.5) + 1e308 * 0.5, 1e308]
    t = 0.4 * 3 - 1  # position 1.2 of 0..3: between the second and third sorted values
    assert sketch.quantiles([0.4]) == [-1e308 * (1 - t) + 1e308 * t]
