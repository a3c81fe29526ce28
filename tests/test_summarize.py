"""`sketch.summarize`: the statistics and the histogram of a batch in one go are those of
ColumnStats.of and Histogram.update, to the last bit, whatever the values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from normcli.sketch import Histogram, summarize
from normcli.stats import ColumnStats


@settings(max_examples=200, deadline=None)
@given(
    x=arrays(np.float64, st.integers(0, 300), elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    earlier=arrays(np.float64, st.integers(0, 50), elements=st.floats(-1e6, 1e6)),
)
def test_summarize_is_of_and_update(x: np.ndarray, earlier: np.ndarray) -> None:
    apart, together = Histogram(), Histogram()
    for h in (apart, together):
        h.update(earlier)  # a histogram that already holds values, on its own grid
    apart.update(x)
    expected = ColumnStats.of(x)
    got = summarize(x, together)
    assert repr(got) == repr(expected)  # repr: NaN fields (an empty batch) compare equal
    assert together.to_dict() == apart.to_dict()
