"""The methods: formulas as documented, exact inverses, edge-case policies."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import normcli
from normcli.errors import DataError, UsageError
from normcli.method_table import METHODS, get_method

# Hypothesis finds constant columns; their warning is tested on its own below.
pytestmark = pytest.mark.filterwarnings("ignore:column 'x' is constant")


def fit_one(x, method, **options):
    return normcli.fit({"x": np.asarray(x, dtype=float)}, method, **options)


def apply(scaler, x):
    return scaler.transform({"x": np.asarray(x, dtype=float)})["x"]


def test_formulas_match_the_guide():
    x = np.array([2.0, 4.0, 10.0, np.nan])
    v = x[:3]
    assert np.allclose(apply(fit_one(x, "minmax"), v), (v - 2) / 8)
    assert np.allclose(apply(fit_one(x, "minmax", range=(-1, 1)), v), (v - 2) / 8 * 2 - 1)
    assert np.allclose(apply(fit_one(x, "zscore"), v), (v - v.mean()) / v.std())
    assert np.allclose(apply(fit_one(x, "zscore", ddof=1), v), (v - v.mean()) / v.std(ddof=1))
    assert np.allclose(apply(fit_one(x, "log"), v), np.log10(v))
    assert np.allclose(apply(fit_one(x, "log", base=2), v), np.log2(v))
    assert np.allclose(apply(fit_one(x, "log", normalize=True), v), np.log10(v) / np.log10(10))
    assert np.allclose(apply(fit_one(x, "log", offset=1.0), v), np.log10(v + 1))
    assert np.allclose(apply(fit_one(x, "atan"), v), np.arctan(v) * 2 / np.pi)
    assert np.allclose(apply(fit_one(x, "reciprocal"), v), 1 / (1 + v))


def test_nan_is_kept_in_the_output():
    for name in METHODS:
        y = apply(fit_one([1.0, 2.0, 3.0], name), [np.nan, 2.0])
        assert np.isnan(y[0]) and np.isfinite(y[1]), name


def test_log_normalize_maps_one_to_zero_and_max_to_one():
    y = apply(fit_one([1.0, 50.0, 1000.0], "log", normalize=True), [1.0, 1000.0])
    assert y.tolist() == [0.0, 1.0]


def assert_round_trip(x, scaler):
    back = scaler.inverse(scaler.transform({"x": x}))["x"]
    scale = np.max(np.abs(x[np.isfinite(x)]), initial=1.0)
    np.testing.assert_allclose(back, x, rtol=1e-12, atol=1e-12 * scale)


# Subnormal spans cannot be stretched to a range without overflow (a clear error, tested below).
values = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False, allow_subnormal=False)
arrays = hnp.arrays(np.float64, st.integers(2, 60), elements=values)


@settings(max_examples=150, deadline=None)
@given(x=arrays, lo=st.floats(-100, 100), width=st.floats(0.01, 1000))
def test_minmax_inverts(x, lo, width):
    scaler = fit_one(x, "minmax", range=(lo, lo + width))
    back = scaler.inverse(scaler.transform({"x": x}))["x"]
    # y is only as fine as the spacing of floats near the range's ends: a narrow range far
    # from 0 (64 to 64.01) maps that spacing back onto x magnified by (max - min) / width.
    conditioning = np.finfo(float).eps * max(abs(lo), abs(lo + width)) / width * (x.max() - x.min())
    scale = np.max(np.abs(x), initial=1.0)
    np.testing.assert_allclose(back, x, rtol=1e-12, atol=1e-12 * scale + 4 * conditioning)


@settings(max_examples=150, deadline=None)
@given(x=arrays, ddof=st.integers(0, 1))
@example(x=np.array([2.2250738585e-308] + [0.0] * 14), ddof=0)  # std 5.7e-309: 1/std overflows
def test_zscore_inverts(x, ddof):
    try:
        scaler = fit_one(x, "zscore", ddof=ddof)
    except DataError as exc:  # a std below ~5.6e-309, whose reciprocal is not a float64
        assert "too small" in str(exc)
        return
    assert_round_trip(x, scaler)


@settings(max_examples=150, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.integers(2, 60), elements=st.floats(1e-300, 1e300)),
    base=st.sampled_from([10.0, 2.0, math.e, 3.5]),
    normalize=st.booleans(),
)
def test_log_inverts(x, base, normalize):
    x = np.append(x, 1e3)  # normalisation needs max > 1
    # base**y amplifies y's rounding by |ln(base) * y| <= ~700, so the bound is 1e-12 relative
    # up to that factor's few ulps; check it exactly as that.
    scaler = fit_one(x, "log", base=base, normalize=normalize)
    back = scaler.inverse(scaler.transform({"x": x}))["x"]
    np.testing.assert_allclose(back, x, rtol=1e-12 * max(1.0, np.max(np.abs(np.log(x)))))


@settings(max_examples=150, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(2, 60), elements=st.floats(-1e3, 1e3)))
def test_atan_inverts_where_it_is_well_conditioned(x):
    # atan squeezes |x| > 1e3 into the last 1e-3 below 1; the inverse loses ~|x|*eps there.
    assert_round_trip(x, fit_one(x, "atan"))


@settings(max_examples=150, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(2, 60), elements=st.floats(0.5, 1e9) | st.floats(-1e9, -1.5)))
def test_reciprocal_inverts_away_from_its_pole(x):
    assert_round_trip(x, fit_one(x, "reciprocal"))


def test_column_centred_at_1e9_round_trips():
    x = 1e9 + np.random.default_rng(1).standard_normal(1000)
    for name in ("minmax", "zscore"):
        assert_round_trip(x, fit_one(x, name))


@pytest.mark.parametrize(("method", "value"), [("minmax", 0.0), ("zscore", 0.0)])
def test_constant_column_maps_to_a_defined_value_with_a_warning(method, value):
    with pytest.warns(UserWarning, match="constant"):
        scaler = fit_one([5.0, 5.0, 5.0], method)
    y = apply(scaler, [5.0, 5.0, np.nan])
    assert y[:2].tolist() == [value, value] and np.isnan(y[2])
    assert scaler.inverse({"x": y})["x"][:2].tolist() == [5.0, 5.0]


def test_constant_minmax_maps_to_the_low_end_of_the_range():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = fit_one([3.0, 3.0], "minmax", range=(-1, 1))
    assert apply(scaler, [3.0]).tolist() == [-1.0]


def test_log_of_non_positive_values_is_an_error_naming_the_column_and_count():
    with pytest.raises(DataError, match=r"column 'x' has values <= 0.*2 such value\(s\), e.g. -1.0"):
        fit_one([-1.0, 0.0, 5.0], "log")
    scaler = fit_one([1.0, 5.0], "log")
    with pytest.raises(DataError, match="column 'x' has values <= 0"):
        apply(scaler, [3.0, -2.0])


def test_log_invalid_nan_policy_turns_them_into_nan_and_is_stored():
    with pytest.warns(UserWarning, match="2 value"):
        scaler = fit_one([-1.0, 0.0, 5.0], "log", invalid="nan")
    assert scaler["x"].options["invalid"] == "nan"
    y = apply(scaler, [-3.0, 100.0])
    assert np.isnan(y[0]) and y[1] == 2.0


def test_log_offset_moves_the_domain():
    assert apply(fit_one([0.0, 9.0], "log", offset=1.0), [0.0, 9.0]).tolist() == [0.0, 1.0]


def test_reciprocal_at_minus_one_is_an_error():
    with pytest.raises(DataError, match="equal to -1"):
        fit_one([-1.0, 2.0], "reciprocal")


def test_minmax_clip_and_out_of_range_counts():
    scaler = fit_one([0.0, 10.0], "minmax", clip=True)
    from normcli.methods import Counters

    counters: dict[str, Counters] = {}
    y = scaler.transform_columns({"x": np.array([-5.0, 5.0, 20.0])}, counters)["x"]
    assert y.tolist() == [0.0, 0.5, 1.0] and counters["x"].clipped == 2
    unclipped = fit_one([0.0, 10.0], "minmax")
    counters = {}
    y = unclipped.transform_columns({"x": np.array([-5.0, 20.0])}, counters)["x"]
    assert y.tolist() == [-0.5, 2.0] and counters["x"].out_of_range == 2


def test_atan_inverse_rejects_values_it_cannot_produce():
    scaler = fit_one([1.0, 2.0], "atan")
    with pytest.raises(DataError, match="cannot produce"):
        scaler.inverse({"x": np.array([0.5, 1.5])})
    assert scaler.inverse({"x": np.array([1.0, -1.0])})["x"].tolist() == [math.inf, -math.inf]


def test_infinite_values_cannot_be_fitted_by_minmax_or_zscore():
    with pytest.raises(DataError, match="1 infinite"):
        fit_one([1.0, np.inf], "zscore")
    assert apply(fit_one([1.0, np.inf], "atan"), [np.inf]).tolist() == [1.0]


def test_huge_values_fit_or_fail_clearly_never_become_a_silent_inf():
    with pytest.raises(DataError, match="overflows"):
        fit_one([-1e308, 1e308], "minmax")  # max - min is beyond float64
    scaler = fit_one([-1e308, 1e308], "zscore")  # the std (1e308) is not
    assert apply(scaler, [-1e308, 1e308]).tolist() == pytest.approx([-1.0, 1.0], rel=1e-15)
    assert apply(fit_one([1e308, 1.5e308], "minmax"), [1.25e308]).tolist() == pytest.approx([0.5], rel=1e-15)
    with pytest.raises(DataError, match="overflows"):
        fit_one([0.0, 1e-308], "minmax", range=(0, 1e10))


def test_all_nan_column_cannot_be_fitted():
    with pytest.raises(DataError, match="no finite values"):
        fit_one([np.nan, np.nan], "zscore")


@pytest.mark.parametrize(
    ("method", "options", "match"),
    [
        ("minmax", {"range": (1, 1)}, "LO < HI"),
        ("minmax", {"range": (0, math.inf)}, "finite"),
        ("minmax", {"range": (0,)}, "two numbers"),
        ("zscore", {"ddof": -1}, "ddof"),
        ("zscore", {"ddof": 1.5}, "ddof"),
        ("log", {"base": 1.0}, "base"),
        ("log", {"base": -2.0}, "base"),
        ("log", {"base": "ten"}, "number"),
        ("log", {"offset": math.nan}, "finite"),
        ("atan", {"invalid": "skip"}, "invalid must be one of error, nan"),
    ],
)
def test_bad_method_options_are_usage_errors(method, options, match):
    with pytest.raises(UsageError, match=match):
        fit_one([1.0, 2.0], method, **options)


def test_unknown_method():
    with pytest.raises(UsageError, match="unknown method 'rank'; choose one of minmax, zscore"):
        get_method("rank")
