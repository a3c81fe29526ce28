"""Several inputs get what one file gets: histograms in the report, --plot, the scaler's
profile and `normcli check`, the CSV options, and outputs committed together.

    normcli fit 'exports/*.csv' -m zscore -o scaler.json --plot fit.svg
    normcli transform exports/ -s scaler.json -o scaled/ --stats-json report.json
    normcli check today/ -s scaler.json
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_clean_error, run

ENGINES = [
    "local",
    pytest.param("dask", marks=pytest.mark.cluster),
]


def engine_args(engine: str) -> tuple[str, ...]:
    if engine == "dask":
        pytest.importorskip("distributed")
        return ("--engine", "dask", "--workers", "2")
    return ()


def exports(folder: Path, days: int = 3, seed: int = 0, shift: float = 0.0) -> list[tuple[float, float]]:
    """Daily CSV exports of prices (normal, a different mean each day) and waiting times
    (exponential, skewed); returns every row, in file order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[float, float]] = []
    for day in range(days):
        n = 200 + 50 * day
        price = rng.normal(100 + 30 * day + shift, 5 + 3 * day, n)
        wait = rng.exponential(2.0, n)
        lines = ["price,wait"] + [f"{p:.17g},{w:.17g}" for p, w in zip(price, wait, strict=True)]
        (folder / f"2026-03-0{day + 1}.csv").write_text("\n".join(lines) + "\n")
        rows += list(zip(price.tolist(), wait.tolist(), strict=True))
    return rows


def write_csv(path: Path, rows: list[tuple[float, float]]) -> Path:
    path.write_text("price,wait\n" + "".join(f"{p:.17g},{w:.17g}\n" for p, w in rows))
    return path


def columns(scaler: Path) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(scaler.read_text())["columns"]}


def stats_json(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text())["columns"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_dataset_fit_keeps_the_profile_of_the_concatenated_fit(tmp_path, engine):
    """The histograms of the parts merge exactly (integer counts on one power-of-two grid), so
    the profile is the very JSON of the concatenated file's, and so are the report's
    'before' histograms; the fitted parameters agree to 1e-12 (Chan's merge)."""
    rows = exports(tmp_path / "exports")
    write_csv(tmp_path / "all.csv", rows)
    r = run("fit", "exports/", "-m", "zscore", "-m", "wait=log", "-o", "ds.json", "--stats-json", "ds-report.json",
            *engine_args(engine), cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    r = run("fit", "all.csv", "-m", "zscore", "-m", "wait=log", "-o", "one.json", "--stats-json", "one-report.json",
            cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    ds, one = columns(tmp_path / "ds.json"), columns(tmp_path / "one.json")
    for name in ("price", "wait"):
        assert ds[name]["profile"] == one[name]["profile"], name
        assert sum(ds[name]["profile"]["counts"]) == len(rows)
        for key, value in one[name]["fitted"].items():
            assert ds[name]["fitted"][key] == pytest.approx(value, rel=1e-12), (name, key)
    ds_report, one_report = stats_json(tmp_path / "ds-report.json"), stats_json(tmp_path / "one-report.json")
    for name in ("price", "wait"):
        assert ds_report[name]["before"]["histogram"] == one_report[name]["before"]["histogram"]
        after, expected = ds_report[name]["after"]["histogram"], one_report[name]["after"]["histogram"]
        assert after["counts"] == expected["counts"]
        assert after["edges"] == pytest.approx(expected["edges"], rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_dataset_transform_reports_the_histograms_of_the_whole(tmp_path, engine):
    """-o DIR/ writes a part per part; the report's histograms are the parts' merged, the same
    counts NumPy gives on the same bins for the data written."""
    rows = exports(tmp_path / "exports")
    write_csv(tmp_path / "all.csv", rows)
    assert run("fit", "all.csv", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    r = run("transform", "exports/", "-s", "s.json", "-o", "scaled/", "--stats-json", "ds.json",
            *engine_args(engine), cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    r = run("transform", "all.csv", "-s", "s.json", "-o", "all-scaled.csv", "--stats-json", "one.json", cwd=tmp_path)
    assert r.code == 0, r.err
    ds, one = stats_json(tmp_path / "ds.json"), stats_json(tmp_path / "one.json")
    scaled = np.concatenate(
        [np.loadtxt(p, delimiter=",", skiprows=1, ndmin=2) for p in sorted((tmp_path / "scaled").glob("*.csv"))]
    )
    for i, name in enumerate(("price", "wait")):
        for stage in ("before", "after"):
            assert ds[name][stage]["histogram"] == one[name][stage]["histogram"], (name, stage)
        hist = ds[name]["after"]["histogram"]
        counts, _ = np.histogram(scaled[:, i], bins=np.asarray(hist["edges"]))
        assert counts.tolist() == hist["counts"]


def test_plots_and_the_histogram_column_work_for_a_dataset(tmp_path):
    exports(tmp_path / "exports")
    r = run("fit", "exports/*.csv", "-m", "zscore", "-o", "s.json", "--plot", "fit.svg", "--hist", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "histogram" in r.err and "▁" in r.err
    svg = (tmp_path / "fit.svg").read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "price" in svg and "wait" in svg
    r = run("transform", "exports/", "-s", "s.json", "-o", "out/", "--plot", "t.html", "--no-hist", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "histogram" not in r.err and "read 3 parts" in r.err
    html = (tmp_path / "t.html").read_text()
    assert "<html" in html.lower() and "price" in html and "wait" in html
    r = run("stats", "exports/", "--hist", "--plot", "stats.png", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "histogram" in r.out.decode()
    assert (tmp_path / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_reads_todays_folder_of_parts(tmp_path):
    """A drift check of a folder: passes on the data fitted on, names the shifted column."""
    exports(tmp_path / "fitted")
    assert run("fit", "fitted/", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    r = run("check", "fitted/", "-s", "s.json", "--output-format", "json", cwd=tmp_path)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["drift"] is False and report["input"].startswith("fitted/")
    assert report["columns"]["price"]["psi"] == pytest.approx(0.0, abs=1e-12)
    exports(tmp_path / "today", seed=5, shift=40.0)  # prices up by several standard deviations
    r = run("check", "today/", "-s", "s.json", "--output-format", "json", cwd=tmp_path)
    assert r.code == 1, r.err
    assert json.loads(r.out)["drifted_columns"] == ["price"]


def semicolon_parts(folder: Path, rows: list[tuple[float, float]], cuts: tuple[int, ...]) -> None:
    """The rows as European exports: ';'-separated, '?' for a missing wait, gzip-compressed."""
    folder.mkdir(parents=True)
    bounds = [0, *cuts, len(rows)]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        text = "price;wait\n" + "".join(
            f"{p:.17g};{'?' if np.isnan(w) else format(w, '.17g')}\n" for p, w in rows[lo:hi]
        )
        (folder / f"part-{i}.csv.gz").write_bytes(gzip.compress(text.encode()))


@pytest.mark.parametrize("engine", ENGINES)
def test_csv_options_apply_to_every_part_and_travel_with_the_scaler(tmp_path, engine):
    rng = np.random.default_rng(7)
    wait = rng.exponential(2.0, 300)
    wait[rng.choice(300, 20, replace=False)] = np.nan
    rows = list(zip(rng.normal(50, 4, 300).tolist(), wait.tolist(), strict=True))
    semicolon_parts(tmp_path / "eu", rows, (90, 200))
    (tmp_path / "plain.csv").write_text(
        "price,wait\n" + "".join(f"{p:.17g},{'' if np.isnan(w) else format(w, '.17g')}\n" for p, w in rows)
    )
    fit = ("-m", "zscore", "-q")
    r = run("fit", "eu/", *fit, "-o", "eu.json", "--delimiter", ";", "--na-values", "?", *engine_args(engine),
            cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert run("fit", "plain.csv", *fit, "-o", "plain.json", cwd=tmp_path).code == 0
    eu, plain = columns(tmp_path / "eu.json"), columns(tmp_path / "plain.json")
    assert eu["wait"]["stats"]["nulls"] == plain["wait"]["stats"]["nulls"] == 20
    for name in ("price", "wait"):
        assert eu[name]["profile"] == plain[name]["profile"]
        for key, value in plain[name]["fitted"].items():
            assert eu[name]["fitted"][key] == pytest.approx(value, rel=1e-12)
    assert json.loads((tmp_path / "eu.json").read_text())["dialect"] == {"delimiter": ";", "na_values": ["?"]}

    # transform: no options given, the scaler's are used for every part, as for one file
    r = run("transform", "eu/", "-s", "eu.json", "-o", "out/", "--stats-json", "t.json", "-q", *engine_args(engine),
            cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert sorted(os.listdir(tmp_path / "out")) == ["part-0.csv", "part-1.csv", "part-2.csv"]
    report = stats_json(tmp_path / "t.json")
    assert report["wait"]["after"]["nulls"] == 20
    assert report["price"]["after"]["mean"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_stats_of_a_dataset_reads_every_part_with_the_csv_options(tmp_path, engine):
    # the dask engine's stats tasks (pieces of parts) get the options as its fit tasks do:
    # -999 is a missing value only because --na-values says so (no sniffing finds it)
    rng = np.random.default_rng(8)
    wait = rng.exponential(2.0, 200)
    wait[rng.choice(200, 15, replace=False)] = np.nan
    (tmp_path / "eu").mkdir()
    for i, (lo, hi) in enumerate(((0, 60), (60, 150), (150, 200))):
        text = "wait\n" + "".join("-999\n" if np.isnan(w) else f"{w:.17g}\n" for w in wait[lo:hi])
        (tmp_path / "eu" / f"part-{i}.csv").write_text(text)
    r = run("stats", "eu/", "--na-values", "-999", "--output-format", "json", *engine_args(engine), cwd=tmp_path)
    assert r.code == 0, r.err
    got = json.loads(r.out)["wait"]
    assert (got["count"], got["nulls"]) == (185, 15)
    assert got["mean"] == pytest.approx(float(np.nanmean(wait)), rel=1e-12)


def test_each_part_sniffs_its_own_dialect_when_no_option_is_given(tmp_path):
    rows = exports(tmp_path / "exports")
    first = tmp_path / "exports" / "2026-03-01.csv"
    first.write_text(first.read_text().replace(",", ";"))  # one export from another system
    write_csv(tmp_path / "all.csv", rows)
    assert run("fit", "exports/", "-m", "zscore", "-o", "ds.json", "-q", cwd=tmp_path).code == 0
    assert run("fit", "all.csv", "-m", "zscore", "-o", "one.json", "-q", cwd=tmp_path).code == 0
    ds, one = columns(tmp_path / "ds.json"), columns(tmp_path / "one.json")
    assert ds["price"]["profile"] == one["price"]["profile"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failing_stats_json_leaves_no_output_directory(tmp_path, engine):
    """-o DIR/ is committed with --stats-json and --plot: /dev/full as the report fails the
    run after every part was written, and neither a new DIR nor a change to an old one remains."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    rows = exports(tmp_path / "exports")
    write_csv(tmp_path / "all.csv", rows)
    assert run("fit", "all.csv", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    argv = ("transform", "exports/", "-s", "s.json", "-o", "out/", "--plot", "t.svg", *engine_args(engine))
    r = run(*argv, "--stats-json", "/dev/full", cwd=tmp_path)
    assert_clean_error(r, 1, "/dev/full", "No space left")
    assert sorted(os.listdir(tmp_path)) == ["all.csv", "exports", "s.json"]

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "yesterday.csv").write_text("price,wait\n0,0\n")
    r = run(*argv, "--overwrite", "--stats-json", "/dev/full", cwd=tmp_path)
    assert_clean_error(r, 1, "/dev/full")
    assert os.listdir(tmp_path / "out") == ["yesterday.csv"]
    assert sorted(os.listdir(tmp_path)) == ["all.csv", "exports", "out", "s.json"]

    r = run(*argv, "--overwrite", "--stats-json", "t.json", cwd=tmp_path)
    assert r.code == 0, r.err
    assert sorted(os.listdir(tmp_path / "out")) == [f"2026-03-0{d}.csv" for d in (1, 2, 3)]
    assert (tmp_path / "t.json").exists() and (tmp_path / "t.svg").exists()


def test_a_failed_rename_at_commit_puts_the_old_directory_back(tmp_path, monkeypatch):
    """The commit renames the directory first; when a later output cannot be renamed into
    place, the new directory is removed and the old one moved back."""
    from normcli.errors import DataError
    from normcli.io.atomic import open_output, staged_outputs
    from normcli.io.dataset import atomic_directory

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.csv").write_text("x\n1\n")
    (tmp_path / "report.json").mkdir()  # a file cannot be renamed over a folder: that rename fails
    (tmp_path / "report.json" / "keep").write_text("")
    with pytest.raises(DataError, match="cannot write report.json"), staged_outputs():
        with atomic_directory("out/", overwrite=True) as folder:
            Path(folder, "new.csv").write_text("x\n2\n")
        with open_output("report.json") as fh:
            fh.write(b"{}")
    assert os.listdir(tmp_path / "out") == ["old.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "report.json"]
