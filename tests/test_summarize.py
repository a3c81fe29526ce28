"""`sketch.summarize`: the statistics, the histogram and the quantile sketch of a batch in one
go are those of ColumnStats.of, Histogram.update and QuantileSketch.update, to the last bit,
whatever the values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from normcli.sketch import Histogram, QuantileSketch, summarize
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


@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(
        arrays(np.float64, st.integers(0, 120), elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
        min_size=1,
        max_size=6,
    ),
    exact_limit=st.sampled_from([8, 64, 10_000]),  # sketched past the limit, or exact throughout
)
def test_summarize_feeds_the_sketch_as_update_does(batches: list[np.ndarray], exact_limit: int) -> None:
    """`stats` (profile.NumericProfile) hands each batch to summarize with its sketch."""
    apart, together = QuantileSketch(k=8, exact_limit=exact_limit), QuantileSketch(k=8, exact_limit=exact_limit)
    for x in batches:
        apart.update(x)
        summarize(x, Histogram(), together)
    qs = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0]
    assert repr(together.quantiles(qs)) == repr(apart.quantiles(qs))
    assert (together.count, together.exact, together.rank_error) == (apart.count, apart.exact, apart.rank_error)
