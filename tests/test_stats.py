"""Mergeable statistics: any batch split gives the one-shot numbers."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from normcli.stats import ColumnStats

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def merged(x: np.ndarray, cuts: list[int]) -> ColumnStats:
    edges = [0, *sorted(cuts), len(x)]
    s = ColumnStats()
    for a, b in zip(edges, edges[1:], strict=False):
        s = s.merge(ColumnStats.of(x[a:b]))
    return s


def assert_close(a: ColumnStats, b: ColumnStats, scale: float) -> None:
    assert (a.count, a.nulls, a.infs, a.min, a.max) == (b.count, b.nulls, b.infs, b.min, b.max)
    if a.count:
        assert math.isclose(a.mean, b.mean, rel_tol=1e-12, abs_tol=1e-12 * scale)
        assert math.isclose(a.std(), b.std(), rel_tol=1e-9, abs_tol=1e-12 * scale)


@settings(max_examples=200, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.integers(1, 200), elements=finite | st.just(math.nan)),
    cuts=st.lists(st.integers(0, 200), max_size=6),
)
@example(x=np.array([2.2250738585e-313, 0.0]), cuts=[1])  # units 1 and subnormal: no float ratio
def test_any_split_merges_to_the_one_shot_statistics(x, cuts):
    cuts = [min(c, len(x)) for c in cuts]
    scale = float(np.nanmax(np.abs(x))) if np.isfinite(x).any() else 1.0
    assert_close(merged(x, cuts), ColumnStats.of(x), scale)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 5000), max_size=8))
def test_column_centred_at_1e9_keeps_its_small_std(seed, cuts):
    x = 1e9 + np.random.default_rng(seed).standard_normal(5000)
    s = merged(x, cuts)
    exact_mean = math.fsum(x) / len(x)
    exact_var = math.fsum((v - exact_mean) ** 2 for v in x) / len(x)
    assert math.isclose(s.mean, exact_mean, rel_tol=1e-15)
    assert math.isclose(s.std(), math.sqrt(exact_var), rel_tol=1e-12)
    assert math.isclose(s.std(), ColumnStats.of(x).std(), rel_tol=1e-12)
    assert 0.9 < s.std() < 1.1


def test_nan_is_a_null_and_inf_is_counted_apart():
    s = ColumnStats.of(np.array([1.0, np.nan, np.inf, 3.0, -np.inf]))
    assert (s.count, s.nulls, s.infs, s.mean, s.min, s.max) == (2, 1, 2, 2.0, 1.0, 3.0)


def test_empty_and_all_nan_have_no_mean():
    assert ColumnStats.of(np.array([])).summary()["mean"] is None
    s = ColumnStats.of(np.array([np.nan, np.nan]))
    assert s.summary() == {"count": 0, "nulls": 2, "infs": 0, "mean": None, "std": None, "min": None, "max": None}


def test_ddof_and_affine_map():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    s = ColumnStats.of(x)
    assert s.std(1) == pytest.approx(np.std(x, ddof=1))
    t = s.affine(shift=2.0, scale=-3.0, offset=1.0)
    y = (x - 2.0) * -3.0 + 1.0
    assert (t.mean, t.min, t.max) == pytest.approx((y.mean(), y.min(), y.max()))
    assert t.std() == pytest.approx(y.std())


def test_values_near_the_float64_limit_do_not_overflow_the_mean():
    s = ColumnStats.of(np.array([1.5e308, 1.7e308, 1.6e308]))
    assert s.mean == pytest.approx(1.6e308)


def test_summary_round_trips():
    s = ColumnStats.of(np.array([0.1, 0.2, np.nan, 0.7]))
    back = ColumnStats.from_summary(s.summary())
    assert back.summary() == s.summary()


@pytest.mark.parametrize("magnitude", [1e-160, 1e-300, 1e-310])
def test_tiny_values_keep_their_std(magnitude):
    # their squares are subnormal or zero in float64: computed in units of the magnitude instead
    x = np.array([1.0, -1.0, 3.0]) * magnitude
    expected = float(np.std([1.0, -1.0, 3.0])) * magnitude
    s = ColumnStats.of(x)
    assert s.std() == pytest.approx(expected, rel=1e-12)
    merged = ColumnStats.of(x[:1]).merge(ColumnStats.of(x[1:]))
    assert merged.std() == pytest.approx(expected, rel=1e-12)
    per_channel = ColumnStats.per_channel(np.stack([x, x * 2]), axis=0)
    assert per_channel[1].std() == pytest.approx(2 * expected, rel=1e-12)
    assert ColumnStats.from_summary(s.summary()).std() == pytest.approx(expected, rel=1e-12)


def exact_m2(values: np.ndarray) -> float:
    """The sum of squared deviations of `values` in exact rational arithmetic, rounded once."""
    v = [Fraction(float(t)) for t in np.asarray(values).ravel()]
    mean = sum(v, Fraction(0)) / len(v)
    return float(sum(((t - mean) ** 2 for t in v), Fraction(0)))


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([np.float32, np.float64, np.int16]),
    st.lists(st.integers(1, 6), min_size=1, max_size=4),
    st.integers(0, 3),
    st.sampled_from([0.0, 1.0, 1e4, -3e6, 1e7]),
    st.sampled_from([3.0, 1e-3, 0.0]),
    st.integers(0, 2**16),
)
def test_per_channel_statistics_are_exact_for_each_channel(dtype, shape, axis, offset, spread, seed):
    """Every channel of a float32, float64 or integer block, on any axis and far from zero
    or not, has the count, min, max and mean `ColumnStats.of` gives that channel alone, and
    its m2 to 1e-12 of the exact (rational) value (float32 and float64 blocks take the tensor
    kernels' exact moments, others the float64 formulas). Spread 0 is a channel of values
    one float32 ulp apart at most: all of m2 is in the last bits."""
    axis %= len(shape)
    rng = np.random.default_rng(seed)
    if spread == 0.0:
        base = np.float32(offset + 3)
        block = np.where(rng.random(shape) < 0.3, np.nextafter(base, np.float32(np.inf)), base).astype(dtype)
    else:
        block = (rng.standard_normal(shape) * spread + offset).astype(dtype)
    got = ColumnStats.per_channel(block, axis)
    assert len(got) == shape[axis]
    for c, s in enumerate(got):
        channel = np.take(block, c, axis=axis)
        want = ColumnStats.of(channel)
        assert (s.count, s.min, s.max) == (want.count, want.min, want.max)
        assert abs(s.mean - want.mean) <= 1e-15 * abs(want.mean) + 1e-300
        assert s.m2 == pytest.approx(exact_m2(channel), rel=1e-12, abs=1e-300)
