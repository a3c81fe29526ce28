"""`normcli merge`: scalers fitted on disjoint shards combine into the scaler of the union;
exactly for the moment methods, within the stated rank error for robust and quantile, and
never for the power transforms."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import normcli
from normcli.merge import merge_scalers

from conftest import run

RNG = np.random.default_rng(42)
ROWS = 3000
# a column centred at 1e9 with spread 1, a skewed one, one with ties and NaN
DATA = {
    "sensor": 1e9 + RNG.normal(0, 1, ROWS),
    "income": RNG.lognormal(10, 1, ROWS),
    "rooms": np.where(RNG.random(ROWS) < 0.05, np.nan, RNG.integers(1, 6, ROWS).astype(float)),
}
CUTS = [0, 700, 1900, ROWS]


def write_csv(path: Path, rows: slice) -> None:
    lines = [",".join(DATA)]
    for i in range(rows.start, rows.stop):
        lines.append(",".join("" if np.isnan(DATA[n][i]) else repr(float(DATA[n][i])) for n in DATA))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shards")
    write_csv(folder / "all.csv", slice(0, ROWS))
    for k, (a, b) in enumerate(zip(CUTS, CUTS[1:], strict=False)):
        write_csv(folder / f"part{k}.csv", slice(a, b))
    return folder


def fit_and_merge(folder: Path, flags: list[str], tag: str) -> tuple[dict, dict, str]:
    parts = []
    for k in range(len(CUTS) - 1):
        r = run("fit", f"part{k}.csv", *flags, "-o", f"{tag}{k}.json", "-q", cwd=folder)
        assert r.code == 0, r.err
        parts.append(f"{tag}{k}.json")
    r = run("fit", "all.csv", *flags, "-o", f"{tag}_all.json", "-q", cwd=folder)
    assert r.code == 0, r.err
    merged = run("merge", *parts, "-o", f"{tag}_merged.json", cwd=folder)
    assert merged.code == 0, merged.err
    whole = json.loads((folder / f"{tag}_all.json").read_text())
    return whole, json.loads((folder / f"{tag}_merged.json").read_text()), merged.err


@pytest.mark.parametrize(
    "flags",
    [
        ["-m", "minmax"],
        ["-m", "zscore", "--ddof", "1"],
        ["-m", "scale"],
        ["-m", "maxabs"],
        ["-m", "log", "--log-normalize"],
        ["-m", "sensor=zscore", "-m", "income=log", "-m", "rooms=maxabs"],
    ],
)
def test_moment_methods_merge_to_the_scaler_of_the_whole_file(shards, flags):
    whole, merged, _ = fit_and_merge(shards, flags, "m" + str(abs(hash(tuple(flags)))))
    assert merged["version"] == whole["version"] and merged["input_columns"] == whole["input_columns"]
    for a, b in zip(whole["columns"], merged["columns"], strict=True):
        assert (a["name"], a["method"], a["options"]) == (b["name"], b["method"], b["options"])
        assert sorted(a["fitted"]) == sorted(b["fitted"])
        for key in a["fitted"]:
            assert b["fitted"][key] == pytest.approx(a["fitted"][key], rel=1e-12, abs=0), (a["name"], key)
        for key in ("count", "nulls", "infs", "min", "max"):
            assert a["stats"][key] == b["stats"][key]
        assert b["stats"]["mean"] == pytest.approx(a["stats"]["mean"], rel=1e-15)
        assert b["stats"]["std"] == pytest.approx(a["stats"]["std"], rel=1e-12)


def rank_of(value: float, column: np.ndarray) -> tuple[float, float]:
    """The fractions of the column below and at most `value`: a quantile's rank lies between."""
    v = np.sort(column[np.isfinite(column)])
    return np.searchsorted(v, value, "left") / v.size, np.searchsorted(v, value, "right") / v.size


@pytest.mark.parametrize("flags", [["-m", "robust"], ["-m", "robust", "--quantile-range", "5", "95"]])
def test_robust_merges_within_the_stated_rank_error(shards, flags):
    whole, merged, err = fit_and_merge(shards, flags, "r" + str(len(flags)))
    lo, hi = [5, 95] if "--quantile-range" in flags else [25, 75]
    for col in merged["columns"]:
        error = col["summary"]["rank_error"]
        assert 0 <= error < 0.01
        below, upto = rank_of(col["fitted"]["center"], DATA[col["name"]])
        assert below - error <= 0.5 <= upto + error, (col["name"], below, upto, error)
        assert col["fitted"]["scale"] > 0
    assert "rank error" in err or all(c["summary"]["rank_error"] == 0 for c in merged["columns"])
    assert [c["name"] for c in merged["columns"]] == [c["name"] for c in whole["columns"]]
    assert lo < hi


def test_quantile_merges_within_the_stated_rank_error(shards):
    whole, merged, _ = fit_and_merge(shards, ["-m", "quantile", "--n-quantiles", "50"], "q")
    for col in merged["columns"]:
        error = col["summary"]["rank_error"]
        quantiles = col["fitted"]["quantiles"]
        assert len(quantiles) == 50
        for p, q in zip(np.linspace(0, 1, 50), quantiles, strict=True):
            below, upto = rank_of(q, DATA[col["name"]])
            assert below - error - 1e-9 <= p <= upto + error + 1e-9, (col["name"], p, below, upto, error)


def test_merge_of_two_exact_sketches_that_fit_is_exact():
    x = np.random.default_rng(0).normal(size=500)
    a, b = normcli.fit({"v": x[:200]}, "robust"), normcli.fit({"v": x[200:]}, "robust")
    merged = merge_scalers([a, b], ["a", "b"])
    whole = normcli.fit({"v": x}, "robust")
    assert merged.columns[0].fitted == whole.columns[0].fitted
    assert merged.columns[0].summary["rank_error"] == 0


def test_merging_is_refused_for_power_transforms_with_a_message_to_refit(shards):
    r0 = run("fit", "part0.csv", "-m", "yeo-johnson", "-o", "p0.json", "-q", cwd=shards)
    r1 = run("fit", "part1.csv", "-m", "yeo-johnson", "-o", "p1.json", "-q", cwd=shards)
    assert r0.code == r1.code == 0
    r = run("merge", "p0.json", "p1.json", "-o", "p.json", cwd=shards)
    assert r.code == 1 and "cannot be merged from shards; refit it on the whole data" in r.err
    assert not (shards / "p.json").exists()


def test_the_merged_scaler_transforms_like_the_whole_one(shards):
    fit_and_merge(shards, ["-m", "zscore"], "t")
    for tag in ("t_all", "t_merged"):
        r = run("transform", "all.csv", "-s", f"{tag}.json", "-o", f"{tag}.csv", "-q", cwd=shards)
        assert r.code == 0, r.err
    a = np.genfromtxt(shards / "t_all.csv", delimiter=",", skip_header=1)
    b = np.genfromtxt(shards / "t_merged.csv", delimiter=",", skip_header=1)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    method=st.sampled_from(["minmax", "zscore", "scale", "maxabs", "robust", "quantile"]),
    cuts=st.lists(st.integers(1, 299), min_size=1, max_size=4, unique=True),
    centre=st.sampled_from([0.0, 1e9]),
)
def test_merged_shards_equal_the_whole(method, cuts, centre):
    """Shards small enough for exact sketches: every method's merge is the whole file's fit."""
    x = centre + np.random.default_rng(len(cuts)).standard_t(3, 300)
    with warnings.catch_warnings():  # a shard of one row is constant, and says so
        warnings.simplefilter("ignore", UserWarning)
        parts = [normcli.fit({"v": part}, method) for part in np.split(x, sorted(cuts))]
    merged = merge_scalers(parts, [f"part {i}" for i in range(len(parts))])
    whole = normcli.fit({"v": x}, method)
    for key, value in whole.columns[0].fitted.items():
        np.testing.assert_allclose(merged.columns[0].fitted[key], value, rtol=1e-12, atol=0)
    assert merged.columns[0].stats.count == 300
