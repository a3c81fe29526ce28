"""Issue 9, items 1-6 and 12: data altered or lost without a word. Each test runs the real
`normcli` (or the Python API) on files made here and checks the output and stderr; the
one-line refusals live in SILENT_CASES of tests/test_errors.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import normcli
from normcli.errors import DataError

from conftest import assert_clean_error, run

# --- item 2: an array scaler's feature count is part of its layout -------------------------------


@pytest.mark.parametrize("direction", ["transform", "inverse"])
def test_the_api_refuses_an_array_with_more_features_than_the_scaler(direction):
    scaler = normcli.fit(np.arange(12.0).reshape(4, 3), "minmax")
    with pytest.raises(DataError, match="3 features.*has 5"):
        getattr(scaler, direction)(np.ones((4, 5)))
    per_channel = normcli.fit(np.random.default_rng(0).random((2, 16, 2, 2)), "zscore", axis=1)
    with pytest.raises(DataError, match="16 features.*has 32"):
        getattr(per_channel, direction)(np.ones((2, 32, 2, 2)))
    assert getattr(per_channel, direction)(np.ones((2, 16, 2, 2))).shape == (2, 16, 2, 2)


def test_a_saved_array_scaler_still_applies_to_its_own_shape(tmp_path):
    x = np.random.default_rng(3).random((6, 4, 5))
    np.save(tmp_path / "x.npy", x)
    assert run("fit", "x.npy", "--axis", "1", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    r = run("transform", "x.npy", "-s", "s.json", "-o", "y.npy", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    y = np.load(tmp_path / "y.npy")
    expected = (x - x.mean(axis=(0, 2), keepdims=True)) / x.std(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


# --- items 4 and 6: what fit refuses, the loader refuses; what fit writes, the loader reads -------


@pytest.mark.filterwarnings("ignore:column 'x' is constant")
@settings(max_examples=60, deadline=None)
@given(
    lo=st.floats(-1e300, 1e300),
    width=st.floats(1e-320, 1e300),
    values=st.lists(st.floats(-1e307, 1e307), min_size=2, max_size=6),
    method=st.sampled_from(["minmax", "zscore"]),
)
def test_every_scaler_that_fit_writes_loads_back_and_maps_without_collapsing(lo, width, values, method):
    options = {"range": (lo, lo + width)} if method == "minmax" else {}
    try:
        scaler = normcli.fit({"x": np.array(values)}, method, **options)
    except (DataError, normcli.errors.UsageError):
        return  # refused at fit: nothing was written
    again = normcli.Scaler.from_core(normcli.Scaler.from_json(scaler.to_json()))
    assert [(c.fitted, c.options) for c in again.columns] == [(c.fitted, c.options) for c in scaler.columns]
    y = again.transform({"x": np.array(values)})["x"]
    assert np.isfinite(y).all()
    if method == "minmax" and max(values) > min(values):
        # nothing collapses: the extremes still map to the two ends of the range
        assert y.min() < y.max()


def test_a_hand_edited_scaler_is_refused_before_any_output_is_written(tmp_path):
    (tmp_path / "xy.csv").write_text("x,y\n1,10\n2,20\n3,30\n")
    assert run("fit", "xy.csv", "-m", "minmax", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    data = json.loads((tmp_path / "s.json").read_text())
    data["columns"][0]["fitted"] = {"min": -1.7e308, "max": 1.7e308}
    (tmp_path / "bad.json").write_text(json.dumps(data))
    r = run("transform", "xy.csv", "-s", "bad.json", cwd=tmp_path)
    assert_clean_error(r, 1, "bad.json", "'x'", "overflows")


def test_a_narrow_range_far_in_the_subnormals_is_refused_but_a_usable_one_is_exact(tmp_path):
    (tmp_path / "xy.csv").write_text("x\n1\n2\n3\n")
    r = run("fit", "xy.csv", "-m", "minmax", "--range", "0", "1e-320", cwd=tmp_path)
    assert_clean_error(r, 2, "--range", "1e-320")
    r = run("fit", "xy.csv", "-m", "minmax", "--range", "0", "1e-300", "-o", "s.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("transform", "xy.csv", "-s", "s.json", "-q", cwd=tmp_path)
    assert [float(v) for v in r.text.split()[1:]] == [0.0, 5e-301, 1e-300]
