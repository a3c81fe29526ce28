"""round_significant: N significant digits, and text that short."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from normcli.rounding import round_significant


def significant_digits(value: float) -> int:
    """Digits in the shortest repr of `value`, without sign, point, exponent or padding zeros."""
    mantissa = repr(value).lower().split("e")[0]
    return len(mantissa.replace("-", "").replace(".", "").strip("0")) or 1


@settings(max_examples=400, deadline=None)
@given(
    x=st.floats(min_value=1e-20, max_value=1e20) | st.floats(min_value=-1e20, max_value=-1e-20),
    digits=st.integers(1, 15),
)
def test_rounds_to_n_digits_and_prints_short(x, digits):
    r = float(round_significant(np.array([x]), digits)[0])
    assert math.isclose(r, x, rel_tol=0.51 * 10 ** (1 - digits) + 1e-15)
    assert significant_digits(r) <= digits, (x, digits, r)


def test_special_values_are_kept():
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf])
    r = round_significant(x, 3)
    assert r[0] == 0 and r[1] == 0 and np.isnan(r[2]) and r[3] == np.inf and r[4] == -np.inf
