"""`normcli check`: passes on the data a scaler was fitted on, fails on shifted, rescaled and
null-heavy data naming the right columns, and its PSI is the textbook formula."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_clean_error, run

ROWS = 4000


def write(path: Path, columns: dict[str, np.ndarray]) -> Path:
    names = list(columns)
    lines = [",".join(names)]
    for row in zip(*(columns[n].tolist() for n in names), strict=True):
        lines.append(",".join("" if v != v else repr(v) for v in row))
    path.write_text("\n".join(lines) + "\n")
    return path


def sample(seed: int, rows: int = ROWS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "price": rng.lognormal(12, 0.5, rows).round(2),
        "area_sqm": rng.normal(130, 45, rows).round(1),
        "rooms": rng.integers(1, 7, rows).astype(float),
    }


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("check")
    write(folder / "train.csv", sample(1))
    r = run("fit", "train.csv", "-m", "zscore", "-o", "scaler.json", "-q", cwd=folder)
    assert r.code == 0, r.err
    return folder


def check(folder: Path, data: dict[str, np.ndarray], *args: str) -> tuple[int, dict, str]:
    write(folder / "today.csv", data)
    r = run("check", "today.csv", "-s", "scaler.json", "--output-format", "json", *args, cwd=folder)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out), r.err


def test_the_fitting_data_passes_with_zero_drift(fitted):
    r = run("check", "train.csv", "-s", "scaler.json", cwd=fitted)
    assert r.code == 0, r.err
    assert r.text.count(" ok") == 3 and "drift" not in r.text and r.err == "", r.text
    code, data, _ = check(fitted, sample(1))
    assert code == 0 and data["drift"] is False and data["drifted_columns"] == []
    for entry in data["columns"].values():
        assert (
            entry["psi"] == 0
            and entry["ks"] == 0
            and entry["mean_shift_std"] == 0
            and entry["outside_fitted_range"] == 0
        )


def test_fresh_data_from_the_same_distribution_passes(fitted):
    code, data, err = check(fitted, sample(2))
    assert code == 0, data
    assert all(e["psi"] < 0.05 for e in data["columns"].values()), data


def test_a_shifted_column_fails_and_is_the_only_one_named(fitted):
    today = sample(3)
    today["area_sqm"] = today["area_sqm"] + 45  # one fitted std
    write(fitted / "today.csv", today)
    r = run("check", "today.csv", "-s", "scaler.json", cwd=fitted)
    assert r.code == 1, r.err
    lines = {line.split("│")[0].strip(): line for line in r.text.splitlines() if "│" in line}
    assert "drift: psi" in lines["area_sqm"] and lines["price"].rstrip().endswith("ok"), r.text
    assert r.err.strip() == "warning: drift in 1 of 3 column(s): 'area_sqm'", r.err
    code, data, _ = check(fitted, today)
    assert code == 1 and data["drifted_columns"] == ["area_sqm"]
    assert data["columns"]["area_sqm"]["mean_shift_std"] == pytest.approx(1.0, abs=0.1)


def test_a_rescaled_column_fails_though_its_mean_holds(fitted):
    today = sample(4)
    today["price"] = (today["price"] - today["price"].mean()) * 2 + today["price"].mean()
    code, data, _ = check(fitted, today)
    assert code == 1 and data["drifted_columns"] == ["price"], data
    price = data["columns"]["price"]
    assert abs(price["mean_shift_std"]) < 0.1 and price["outside_fitted_range"] > 0.01 and price["psi"] > 0.2


def test_null_heavy_data_fails_on_the_null_increase(fitted):
    today = sample(5)
    today["rooms"][::4] = np.nan
    code, data, _ = check(fitted, today)
    assert code == 1 and data["drifted_columns"] == ["rooms"], data
    rooms = data["columns"]["rooms"]
    assert rooms["null_share"] == 0.25 and rooms["null_share_fit"] == 0 and rooms["psi"] < 0.2
    assert rooms["reasons"] == ["nulls +25.0% > 5.0%"]
    code, data, _ = check(fitted, today, "--max-null-increase", "0.3")
    assert code == 0, data


def test_ks_is_checked_when_asked(fitted):
    today = sample(6)
    today["area_sqm"] = today["area_sqm"] + 10
    code, data, _ = check(fitted, today)
    ks = data["columns"]["area_sqm"]["ks"]
    assert code == 0 and 0.05 < ks < 0.2, data
    code, data, _ = check(fitted, today, "--max-ks", "0.05")
    assert code == 1 and data["drifted_columns"] == ["area_sqm"]
    assert data["columns"]["area_sqm"]["reasons"] == [f"ks {ks:.3g} > 0.05"]


def reference_psi(fit: np.ndarray, new: np.ndarray, profile: dict) -> float:
    """PSI by the definition: deciles of the fitted data (rounded out to the fitted bins),
    plus a bin below and one above the fitted range; shares floored at 1e-4."""
    n = len(profile["counts"])
    grid = np.arange(profile["first_bin"], profile["first_bin"] + n + 1) * 2.0 ** profile["width_log2"]
    cum = np.cumsum(np.histogram(fit, grid)[0])
    cuts = sorted({grid[np.argmax(cum >= cum[-1] * k / 10) + 1] for k in range(1, 10)} - {grid[-1]})
    edges = np.array([-np.inf, grid[0], *cuts, grid[-1], np.inf])
    e = np.histogram(fit, edges)[0] / fit.size
    a = np.histogram(new, edges)[0] / new.size
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def test_psi_equals_a_reference_computation(fitted):
    profiles = {c["name"]: c["profile"] for c in json.loads((fitted / "scaler.json").read_text())["columns"]}
    train = sample(1)
    for seed, change in ((7, 0.0), (8, 10.0), (9, 60.0)):
        today = sample(seed)
        today["area_sqm"] = today["area_sqm"] + change
        _, data, _ = check(fitted, today)
        for name in train:
            want = reference_psi(train[name], today[name], profiles[name])
            assert data["columns"][name]["psi"] == pytest.approx(want, rel=1e-12, abs=1e-15), (name, seed)


def test_an_old_scaler_without_a_profile_says_to_refit(fitted):
    old = json.loads((fitted / "scaler.json").read_text())
    for column in old["columns"]:
        del column["profile"]
    (fitted / "old.json").write_text(json.dumps(old))
    r = run("transform", "train.csv", "-s", "old.json", "-o", "out.csv", "-q", cwd=fitted)
    assert r.code == 0, r.err  # old files still load
    r = run("check", "train.csv", "-s", "old.json", cwd=fitted)
    assert_clean_error(r, 1, "old.json", "no profile", "refit")


def test_check_reads_stdin_and_names_a_missing_column(fitted):
    r = run("check", "-", "-s", "scaler.json", "-q", stdin=(fitted / "train.csv").read_bytes(), cwd=fitted)
    assert (r.code, r.out, r.err) == (0, b"", "")
    (fitted / "less.csv").write_text("price,rooms\n1,2\n")
    assert_clean_error(run("check", "less.csv", "-s", "scaler.json", cwd=fitted), 1, "area_sqm")
