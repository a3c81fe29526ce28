"""The scaler file: versioned strict JSON that round-trips exactly and is validated on load."""

import json

import numpy as np
import pandas as pd
import pytest

import normcli
from normcli.errors import DataError
from normcli.scaler import Scaler


@pytest.fixture
def scaler():
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "name": ["a", "b", "c", "d"],
            "price": [0.1, 0.2, 0.30000000000000004, 1e-300],
            "big": 1e9 + rng.standard_normal(4),
            "skew": [1.0, 10.0, 1000.0, 3.0],
        }
    )
    return normcli.fit(df, "zscore", methods={"skew": "log", "price": "minmax"}, normalize=True, range=(-1, 1))


def test_file_has_format_version_columns_and_stats(scaler, tmp_path):
    path = tmp_path / "s.json"
    scaler.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "normcli-scaler" and data["version"] == 1
    assert data["normcli_version"] == normcli.__version__
    assert data["input_columns"] == ["name", "price", "big", "skew"]
    cols = {c["name"]: c for c in data["columns"]}
    assert list(cols) == ["price", "big", "skew"]
    assert cols["price"]["method"] == "minmax" and cols["price"]["options"]["range"] == [-1.0, 1.0]
    assert cols["skew"]["fitted"] == {"max": 1000.0}
    assert set(cols["big"]["stats"]) == {"count", "nulls", "infs", "mean", "std", "min", "max"}


def test_floats_round_trip_exactly(scaler, tmp_path):
    path = tmp_path / "s.json"
    scaler.save(path)
    again = normcli.load(path)
    assert again == scaler
    assert again["price"].fitted["min"] == 1e-300
    assert again["big"].fitted == scaler["big"].fitted
    assert repr(again) == "<Scaler 3 column(s): price=minmax, big=zscore, skew=log>"


def test_loaded_scaler_transforms_like_the_original(scaler, tmp_path):
    scaler.save(tmp_path / "s.json")
    x = {"name": np.array(["z"]), "price": np.array([0.25]), "big": np.array([1e9]), "skew": np.array([7.0])}
    a, b = scaler.transform(x), normcli.load(tmp_path / "s.json").transform(x)
    for key in ("price", "big", "skew"):
        assert a[key].tolist() == b[key].tolist()


def edit(scaler, change):
    data = scaler.to_dict()
    change(data)
    return json.dumps(data)


def set_fitted(name, key, value):
    def change(d):
        next(c for c in d["columns"] if c["name"] == name)["fitted"][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update(format="other-tool"), "not a normcli scaler file"),
        (lambda d: d.update(version=3), "version 3; this normcli .* reads versions 1, 2"),
        (lambda d: d.update(version="1"), "version '1'"),
        (lambda d: d.pop("columns"), "lacks 'columns'"),
        (lambda d: d.update(columns=[]), "non-empty list"),
        (lambda d: d.update(input_columns="price"), "list of column names"),
        (lambda d: d["columns"][0].update(method="rank"), "unknown method 'rank'"),
        (lambda d: d["columns"][0].update(name=3), "must be a string"),
        (lambda d: d["columns"][0]["options"].update(extra=1), "unknown key"),
        (lambda d: d["columns"][0]["options"].update(clip="yes please"), "clip must be true or false"),
        (lambda d: d["columns"][0]["options"].update(range=[0, "1"]), "range needs two numbers"),
        (lambda d: d["columns"][1]["options"].update(ddof=-1), "ddof"),
        (set_fitted("price", "min", 5.0), "min 5.0 > max"),
        (set_fitted("big", "std", -1.0), "negative std"),
        (set_fitted("big", "mean", "1e9"), "finite number"),
        (set_fitted("big", "mean", True), "finite number"),
        (lambda d: d["columns"][1]["fitted"].pop("std"), "must have exactly"),
        (lambda d: d["columns"][2]["fitted"].update(max=0.5), "normalization needs"),
        (lambda d: d["columns"][0]["stats"].update(count=-3), "whole number"),
        (lambda d: d["columns"].append(dict(d["columns"][0])), "names a column twice"),
        (lambda d: d["input_columns"].remove("big"), "not among 'input_columns'"),
        (lambda d: d.update(layout={"kind": "array", "ndim": 2, "axis": 5}), "axis 5"),
        (lambda d: d.update(layout={"kind": "cube"}), "'table' or 'array'"),
    ],
)
def test_bad_files_are_one_clear_data_error(scaler, change, match):
    with pytest.raises(DataError, match=match) as info:
        Scaler.from_json(edit(scaler, change), "scaler file s.json")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("scaler file s.json")


@pytest.mark.parametrize(
    "text", ["", "not json", '{"format": "normcli-scaler"', "[1, 2]", '{"a": NaN}', "\xff\xfe".encode("latin1")]
)
def test_non_json_is_rejected(text):
    with pytest.raises(DataError):
        Scaler.from_json(text)


def test_json_is_strict_and_never_pickled(scaler):
    text = scaler.to_json()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        normcli.load(tmp_path / "missing.json")
    with pytest.raises(DataError, match="is a directory"):
        normcli.load(tmp_path)
    (tmp_path / "empty.json").write_text("  \n")
    with pytest.raises(DataError, match="is empty"):
        normcli.load(tmp_path / "empty.json")


def test_a_gigantic_scaler_file_is_refused_without_reading_it_all(tmp_path, monkeypatch):
    import normcli.api

    monkeypatch.setattr(normcli.api, "MAX_SCALER_BYTES", 1000)
    (tmp_path / "big.json").write_text(" " * 5000)
    with pytest.raises(DataError, match="is over"):
        normcli.load(tmp_path / "big.json")
