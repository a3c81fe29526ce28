"""The Python API on DataFrames and arrays."""

import numpy as np
import pandas as pd
import pytest

import normcli
from normcli.errors import DataError, UsageError


@pytest.fixture
def df():
    return pd.DataFrame(
        {
            "city": ["Porto", "Faro", "Braga", None],
            "price": [100.0, 250.0, np.nan, 400.0],
            "rooms": [1, 2, 3, 4],
            "ok": [True, False, True, True],
        }
    )


def test_dataframe_round_trip_keeps_other_columns_in_place(df):
    scaler = normcli.fit(df, method="minmax")
    assert scaler.names == ["price", "rooms"]  # bool and text columns are not scaled
    out = scaler.transform(df)
    assert list(out.columns) == list(df.columns)
    assert out["city"].tolist() == df["city"].tolist() and out["ok"].tolist() == df["ok"].tolist()
    assert out["price"].tolist()[:2] == [0.0, 0.5] and np.isnan(out["price"][2])
    assert out["rooms"].tolist() == [0.0, 1 / 3, 2 / 3, 1.0]
    back = scaler.inverse(out)
    pd.testing.assert_series_equal(back["price"], df["price"])
    assert back["rooms"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert df["price"].tolist()[:2] == [100.0, 250.0]  # the input is not modified


def test_columns_exclude_and_per_column_methods(df):
    assert normcli.fit(df, "zscore", columns=["rooms"]).names == ["rooms"]
    assert normcli.fit(df, "zscore", exclude=["rooms"]).names == ["price"]
    s = normcli.fit(df, None, methods={"price": "log"})
    assert [(c.name, c.method) for c in s.columns] == [("price", "log")]
    s = normcli.fit(df, "zscore", methods={"price": "log"})
    assert [(c.name, c.method) for c in s.columns] == [("price", "log"), ("rooms", "zscore")]


def test_naming_bad_columns_is_an_error(df):
    with pytest.raises(UsageError, match="names column 'nope'"):
        normcli.fit(df, "zscore", columns=["nope"])
    with pytest.raises(DataError, match="'city' .* is not numeric"):
        normcli.fit(df, "zscore", columns=["city"])
    with pytest.raises(UsageError, match="no method given"):
        normcli.fit(df, None)


def test_transform_needs_every_scaled_column(df):
    scaler = normcli.fit(df, "zscore")
    with pytest.raises(DataError, match="lacks column\\(s\\) 'rooms'"):
        scaler.transform(df.drop(columns=["rooms"]))


def test_2d_array_is_rows_by_features():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    scaler = normcli.fit(x, "minmax")
    assert scaler.names == ["0", "1"]
    assert scaler.transform(x).tolist() == [[0.0, 0.0], [1.0, 1.0]]
    np.testing.assert_allclose(scaler.inverse(scaler.transform(x)), x)


def test_nd_array_with_feature_axis_is_batchnorm_normalization():
    x = np.random.default_rng(3).normal(5.0, 2.0, (6, 3, 4, 4))
    scaler = normcli.fit(x, "zscore", axis=1)
    y = scaler.transform(x)
    assert y.shape == x.shape
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, rtol=1e-12)
    expected = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / x.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(UsageError, match="needs axis"):
        normcli.fit(x, "zscore")


def test_1d_array_is_one_feature():
    x = np.array([1.0, 2.0, 3.0])
    y = normcli.fit(x, "minmax").transform(x)
    assert y.tolist() == [0.0, 0.5, 1.0]


def test_save_is_atomic_and_load_returns_a_working_scaler(df, tmp_path):
    path = tmp_path / "s.json"
    scaler = normcli.fit(df, "zscore")
    scaler.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
    loaded = normcli.load(str(path))
    assert isinstance(loaded, normcli.Scaler)
    pd.testing.assert_frame_equal(loaded.transform(df), scaler.transform(df))


def test_non_numeric_array_and_unknown_type_are_clear_errors():
    with pytest.raises(DataError, match="dtype"):
        normcli.fit(np.array(["a", "b"]), "zscore")
    with pytest.raises(UsageError, match="cannot scale a set"):
        normcli.fit({1, 2}, "zscore")


def test_package_exports_are_lazy_and_complete():
    import subprocess
    import sys

    code = "import sys, normcli; assert 'numpy' not in sys.modules; normcli.fit; assert 'numpy' in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert {"fit", "load", "Scaler", "lrn", "NormcliError"} <= set(dir(normcli))


def test_normcli_lrn_stays_the_function_after_the_cli_loaded_its_module():
    """A submodule named like a package attribute would replace it on import."""
    import normcli.cli  # noqa: F401
    from normcli.lrn_kernel import resolve_spec  # noqa: F401

    x = np.ones((1, 3, 2, 2), dtype=np.float32)
    assert callable(normcli.lrn)
    window_sums = np.array([2.0, 3.0, 2.0]).reshape(1, 3, 1, 1)  # edge channels see one neighbour
    np.testing.assert_allclose(normcli.lrn(x, size=3), x * (1 + 1e-4 / 3 * window_sums) ** -0.75, rtol=1e-6)
