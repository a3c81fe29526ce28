"""The scalers of issue 14 (scale, maxabs, robust, quantile, yeo-johnson, box-cox) against
scikit-learn's answers on data made by tests/data/make_methods_golden.py (skewed, heavy-tailed,
with ties, with NaN), through the command line and the Python API; streamed in batches vs one
batch; inverses; the memory budget and the sketch's error bound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import normcli
from normcli.errors import DataError
from normcli.scaler_fit import ScalerFitter, plan_columns

from conftest import run

GOLDEN = np.load(Path(__file__).parent / "data" / "methods_golden.npz")
X, POSITIVE = GOLDEN["x"], GOLDEN["positive"]
NAMES = ["skewed", "heavy", "ties", "with_nan"]
POSITIVE_NAMES = ["skewed", "ties", "with_nan"]

# case -> (method, Python options, command-line flags); the cases of make_methods_golden.py
CASES = {
    "scale": ("scale", {}, ""),
    "maxabs": ("maxabs", {}, ""),
    "robust": ("robust", {}, ""),
    "robust_options": (
        "robust",
        {"quantile_range": (10, 90), "with_centering": False, "unit_variance": True},
        "--quantile-range 10 90 --no-center --unit-variance",
    ),
    "robust_noscale": ("robust", {"with_scaling": False}, "--no-scale"),
    "quantile": ("quantile", {}, ""),
    "quantile_normal": (
        "quantile",
        {"output_distribution": "normal", "n_quantiles": 100},
        "--output-distribution normal --n-quantiles 100",
    ),
    "yeo-johnson": ("yeo-johnson", {}, ""),
    "yeo-johnson_raw": ("yeo-johnson", {"standardize": False}, "--no-standardize"),
    "box-cox": ("box-cox", {}, ""),
}
POWER = {"yeo-johnson", "box-cox"}


def inputs(case: str) -> tuple[np.ndarray, list[str]]:
    return (POSITIVE, POSITIVE_NAMES) if case.startswith("box-cox") else (X, NAMES)


def write_csv(path: Path, x: np.ndarray, names: list[str]) -> None:
    lines = [",".join(names)]
    lines += [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in x]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("case", CASES)
def test_the_command_line_equals_scikit_learn(tmp_path, case):
    method, _, flags = CASES[case]
    x, names = inputs(case)
    write_csv(tmp_path / "data.csv", x, names)
    r = run("fit", "data.csv", "-m", method, *flags.split(), "-o", "s.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("transform", "data.csv", "-s", "s.json", "-o", "out.parquet", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    table = pq.read_table(tmp_path / "out.parquet")
    y = np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in names])
    expected = GOLDEN[f"{case}:y"]
    assert np.array_equal(np.isnan(y), np.isnan(expected))
    # power transforms: our lambda is the likelihood's maximum to ~1e-10, scikit-learn's to ~1e-8
    tolerance = 1e-5 if method in POWER else 1e-9
    np.testing.assert_allclose(y, expected, rtol=tolerance, atol=tolerance)
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["version"] == 2 and [c["method"] for c in saved["columns"]] == [method] * len(names)


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][0] in POWER])
def test_power_lambda_to_1e6_and_output_to_1e9_with_scikit_learns_lambda(case):
    method, options, _ = CASES[case]
    x, _ = inputs(case)
    scaler = normcli.fit(x, method, **options)
    lambdas = [c.fitted["lambda"] for c in scaler.columns]
    np.testing.assert_allclose(lambdas, GOLDEN[f"{case}:lambdas_"], atol=1e-6)
    # with scikit-learn's lambda (and its standardization) our transform is its transform
    data = scaler.to_dict()
    for j, col in enumerate(data["columns"]):
        col["fitted"]["lambda"] = float(GOLDEN[f"{case}:lambdas_"][j])
        if options.get("standardize", True):
            col["fitted"]["mean"] = float(GOLDEN[f"{case}:mean_"][j])
            col["fitted"]["std"] = float(GOLDEN[f"{case}:scale_"][j])
    theirs = normcli.api.Scaler.from_core(normcli.scaler.Scaler.from_dict(data))
    np.testing.assert_allclose(theirs.transform(x), GOLDEN[f"{case}:y"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("case", "key", "attr"),
    [
        ("scale", "std", "scale_"),
        ("maxabs", "max_abs", "max_abs_"),
        ("robust", "center", "center_"),
        ("robust", "scale", "scale_"),
        ("robust_options", "scale", "scale_"),
    ],
)
def test_fitted_values_are_scikit_learns(case, key, attr):
    method, options, _ = CASES[case]
    scaler = normcli.fit(X, method, **options)
    np.testing.assert_allclose([c.fitted[key] for c in scaler.columns], GOLDEN[f"{case}:{attr}"], rtol=1e-12)


def test_quantiles_are_scikit_learns():
    scaler = normcli.fit(X, "quantile")
    ours = np.column_stack([c.fitted["quantiles"] for c in scaler.columns])
    assert ours.shape == GOLDEN["quantile:quantiles_"].shape == (400, 4)  # n_quantiles 1000 > 400 rows
    np.testing.assert_allclose(ours, GOLDEN["quantile:quantiles_"], rtol=1e-12)


def test_quantile_maps_values_beyond_the_fitted_range_to_the_bounds():
    scaler = normcli.fit({"v": np.arange(1.0, 11.0)}, "quantile", n_quantiles=10)
    out = scaler.transform({"v": np.array([-100.0, 1.0, 10.0, 1e9, np.nan])})["v"]
    assert out[:4].tolist() == [0.0, 0.0, 1.0, 1.0] and np.isnan(out[4])
    normal = normcli.fit({"v": np.arange(1.0, 11.0)}, "quantile", n_quantiles=10, output_distribution="normal")
    y = normal.transform({"v": np.array([-100.0, 100.0])})["v"]
    assert np.isfinite(y).all() and y[0] == -y[1] and 5.1 < y[1] < 5.3  # clipped, as scikit-learn does


def test_repeated_values_map_to_the_middle_of_their_quantile_span():
    v = np.array([1.0, 2.0, 2.0, 2.0, 3.0])
    y = normcli.fit({"v": v}, "quantile").transform({"v": v})["v"]
    assert y.tolist() == [0.0, 0.5, 0.5, 0.5, 1.0]


# --- streamed in batches vs one batch ----------------------------------------------------------


def fit_in_batches(x: np.ndarray, method: str, cuts: list[int], memory: int | None = None, **options):
    names = [str(j) for j in range(x.shape[1])]
    plans = plan_columns(names, names, method=method, options=options)
    fitter = ScalerFitter(plans, names, None, **({} if memory is None else {"memory": memory}))
    for part in np.split(x, sorted(cuts)):
        fitter.update({n: part[:, j] for j, n in enumerate(names)})
    return fitter.finish().scaler


@settings(max_examples=25, deadline=None)
@given(
    method=st.sampled_from(["scale", "maxabs", "robust", "quantile", "yeo-johnson"]),
    cuts=st.lists(st.integers(0, len(X)), max_size=6),
)
def test_batches_fit_what_one_batch_fits(method, cuts):
    whole = fit_in_batches(X, method, [])
    streamed = fit_in_batches(X, method, cuts)
    for a, b in zip(whole.columns, streamed.columns, strict=True):
        for key, value in a.fitted.items():
            np.testing.assert_allclose(b.fitted[key], value, rtol=1e-12, atol=0)


def test_a_sample_beyond_the_budget_is_the_same_for_any_batch_split():
    rng = np.random.default_rng(5)
    x = rng.lognormal(0, 0.5, (60_000, 1))
    a = fit_in_batches(x, "box-cox", [], memory=1)  # the budget's floor: 8192 values
    b = fit_in_batches(x, "box-cox", [7, 1000, 33_333], memory=1)
    assert a.columns[0].fitted == b.columns[0].fitted
    sample = a.columns[0].summary["sample"]
    assert sample == {"values": 8192, "of": 60_000, "seed": 0}
    exact = fit_in_batches(x, "box-cox", [])
    assert abs(a.columns[0].fitted["lambda"] - exact.columns[0].fitted["lambda"]) < 0.05


# --- inverses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("quantile")])
def test_inverse_restores_the_data(case):
    method, options, _ = CASES[case]
    x, _ = inputs(case)
    scaler = normcli.fit(x, method, **options)
    back = scaler.inverse(scaler.transform(x))
    np.testing.assert_allclose(back, x, rtol=1e-9, atol=1e-12)


def test_quantile_inverse_restores_distinct_values_within_the_fitted_range():
    v = np.random.default_rng(7).standard_t(2, 300)
    for dist in ("uniform", "normal"):
        scaler = normcli.fit({"v": v}, "quantile", output_distribution=dist)
        back = scaler.inverse(scaler.transform({"v": v}))["v"]
        np.testing.assert_allclose(back, v, rtol=1e-6, atol=1e-9)


# --- bounded memory: the sketch and its stated error ----------------------------------------


def test_the_sketch_error_bound_holds_on_a_large_stream():
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.pareto(1.5, 300_000), rng.normal(0, 1, 200_000)])
    rng.shuffle(x)
    scaler = fit_in_batches(x[:, None], "robust", list(range(0, x.size, 65_536)), memory=1, quantile_range=(5, 95))
    col = scaler.columns[0]
    error = col.summary["rank_error"]
    assert 0 < error < 0.01
    ordered = np.sort(x)
    center_rank = np.searchsorted(ordered, col.fitted["center"]) / x.size
    assert abs(center_rank - 0.5) <= error + 1 / x.size
    exact = fit_in_batches(x[:, None], "robust", [], quantile_range=(5, 95))
    assert exact.columns[0].summary["rank_error"] == 0
    assert exact.columns[0].fitted["center"] == np.median(x)


def test_the_command_line_says_when_it_approximated(tmp_path):
    v = np.random.default_rng(3).normal(size=30_000)
    (tmp_path / "data.csv").write_text("v\n" + "\n".join(map(repr, v.tolist())) + "\n")
    r = run("fit", "data.csv", "-m", "quantile", "--memory", "1K", "-o", "s.json", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "quantile sketch with rank error at most" in " ".join(r.err.split())  # rich wraps lines
    saved = json.loads((tmp_path / "s.json").read_text())["columns"][0]["summary"]
    assert 0 < saved["rank_error"] < 0.01
    r = run("fit", "data.csv", "-m", "quantile", "-o", "exact.json", cwd=tmp_path)
    assert "sketch" not in r.err
    assert json.loads((tmp_path / "exact.json").read_text())["columns"][0]["summary"]["rank_error"] == 0


def test_box_cox_refuses_values_at_or_below_zero():
    with pytest.raises(DataError, match=r"column '0' has values <= 0; box-cox needs x > 0"):
        normcli.fit(np.array([[1.0], [0.0], [2.0]]), "box-cox")
    with pytest.warns(UserWarning, match="1 value.s. outside the domain of box-cox became NaN"):
        scaler = normcli.fit(np.array([[1.0], [0.0], [2.0], [4.0]]), "box-cox", invalid="nan")
    assert scaler.columns[0].stats.count == 4  # the statistics are of x; the zero is left out of the fit


# --- the scaler file: every version loads; the new fitted values are checked ------------------

DATA_DIR = Path(__file__).parent / "data"
HOUSES = {
    "price": np.array([100000.0, 250000.0, 175000.0, 90000.0]),
    "rooms": np.array([3.0, 4.0, 2.0, 1.0]),
    "area": np.array([50.0, 120.0, 80.0, 35.0]),
}


@pytest.mark.parametrize(
    ("version", "methods"),
    [(1, ["zscore", "minmax", "log"]), (2, ["robust", "quantile", "yeo-johnson"])],
)
def test_every_scaler_file_version_loads_and_transforms(version, methods):
    path = DATA_DIR / f"scaler_v{version}.json"
    assert json.loads(path.read_text())["version"] == version
    scaler = normcli.load(path)
    assert [c.method for c in scaler.columns] == methods
    back = scaler.inverse(scaler.transform(HOUSES))
    for name, values in HOUSES.items():
        if scaler[name].method != "quantile":
            np.testing.assert_allclose(back[name], values, rtol=1e-12)
    # the version-1 file has no exact moments: they come from its mean and std
    if version == 1:
        price = scaler["price"]
        assert price.stats.count == 4 and price.fitted["mean"] == pytest.approx(HOUSES["price"].mean(), rel=1e-15)


def test_a_scaler_of_classic_methods_is_still_written_as_version_1():
    assert normcli.fit(HOUSES, "minmax").to_dict()["version"] == 1
    assert normcli.fit(HOUSES, "minmax", methods={"area": "maxabs"}).to_dict()["version"] == 2


def edited_file(tmp_path: Path, method: str, change, **options) -> Path:
    data = normcli.fit({"v": np.arange(1.0, 41.0)}, method, **options).to_dict()
    change(data["columns"][0])
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("method", "change", "match"),
    [
        ("scale", lambda c: c["fitted"].update(std=0.0), "has std 0.0; it must be > 0"),
        ("maxabs", lambda c: c["fitted"].update(max_abs=-2.0), "has max_abs -2.0"),
        ("robust", lambda c: c["fitted"].update(scale=-1.0), "has scale -1.0"),
        ("robust", lambda c: c["fitted"].pop("center"), "must have exactly"),
        ("quantile", lambda c: c["fitted"]["quantiles"].reverse(), "quantiles must not decrease"),
        ("quantile", lambda c: c["fitted"].update(quantiles=[1.0, "x"]), "must be a finite number"),
        ("quantile", lambda c: c["summary"]["sketch"].update(count=3), "summary is malformed"),
        ("quantile", lambda c: c["summary"].update(rank_error=2), "rank_error must be a number between 0 and 1"),
        ("robust", lambda c: c["moments"].update(shift=1e6), "moments give mean"),
        ("yeo-johnson", lambda c: c["fitted"].update(std=-1.0), "has std -1.0"),
        ("yeo-johnson", lambda c: c["fitted"].update({"lambda": "1.5"}), "must be a finite number"),
        ("zscore", lambda c: c.update(summary={"rank_error": 0}), "does not keep"),
    ],
)
def test_new_fitted_values_are_checked_on_load(tmp_path, method, change, match):
    path = edited_file(tmp_path, method, change)
    with pytest.raises(DataError, match=match):
        normcli.load(path)


@pytest.mark.parametrize("method", ["scale", "maxabs", "robust", "yeo-johnson", "box-cox"])
def test_the_command_line_inverse_restores_the_file(tmp_path, method):
    write_csv(tmp_path / "data.csv", POSITIVE, POSITIVE_NAMES)
    for argv in (
        ("fit", "data.csv", "-m", method, "-o", "s.json"),
        ("transform", "data.csv", "-s", "s.json", "-o", "scaled.parquet"),
        ("inverse", "scaled.parquet", "-s", "s.json", "-o", "back.parquet"),
    ):
        r = run(*argv, "-q", cwd=tmp_path)
        assert r.code == 0, r.err
    table = pq.read_table(tmp_path / "back.parquet")
    back = np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in POSITIVE_NAMES])
    np.testing.assert_allclose(back, POSITIVE, rtol=1e-9)
