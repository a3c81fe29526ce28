"""`normcli show` prints what a scaler holds; `fit --apply` fits and transforms in one command."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import NORMCLI, SAMPLE, assert_clean_error, run

HOUSES = SAMPLE / "houses.csv"


@pytest.fixture
def scaler(tmp_path) -> Path:
    path = tmp_path / "s.json"
    r = run("fit", HOUSES, "-m", "zscore", "-m", "price=log", "--log-normalize", "-o", path, "-q")
    assert r.code == 0, r.err
    return path


def rows_of(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "│" in line:
            cells = [c.strip() for c in line.split("│")]
            out.setdefault(cells[0], []).extend(cells[1:])
    return out


def test_show_prints_columns_methods_options_fitted_values_and_statistics(scaler):
    r = run("show", scaler)
    assert r.code == 0 and r.err == "", r.err
    assert "fitted on a table of 8 column(s), 6 scaled" in r.text
    rows = rows_of(r.text)
    data = json.loads(scaler.read_text())
    assert list(rows) == [c["name"] for c in data["columns"]]
    price = rows["price"]
    assert price[:3] == ["log", "invalid=error, base=10, offset=0, normalize=true", "max=2.5875e+06"]
    assert price[3:] == ["500", "0", "4.8551e+05", "3.8586e+05", "44400", "2.5875e+06"]
    assert rows["rooms"][2] == "mean=3.73, std=1.5117"


def test_show_json_is_the_checked_scaler(scaler):
    r = run("show", scaler, "--json")
    assert r.code == 0 and json.loads(r.out) == json.loads(scaler.read_text())
    assert run("show", scaler, "--output-format", "json").out == r.out


def test_show_of_an_array_scaler_names_its_layout(tmp_path):
    np.save(tmp_path / "a.npy", np.random.default_rng(0).random((4, 3, 2)))
    assert run("fit", tmp_path / "a.npy", "--axis", "1", "-m", "minmax", "-o", tmp_path / "s.json", "-q").code == 0
    r = run("show", "s.json", cwd=tmp_path)  # a short name: a long one wraps the line at 200 columns
    assert "3-D arrays, features on axis 1" in r.text and list(rows_of(r.text)) == ["0", "1", "2"]


def test_show_of_a_file_that_is_not_a_scaler(tmp_path):
    assert_clean_error(run("show", HOUSES), 1, "houses.csv", "not a normcli scaler file")


def test_fit_apply_writes_the_data_and_the_scaler_as_fit_then_transform_would(tmp_path):
    r = run("fit", HOUSES, "-m", "zscore", "--apply", "-o", tmp_path / "out.csv", "-s", tmp_path / "s.json")
    assert r.code == 0, r.err
    assert "transform: " in r.err and r.out == b""
    assert run("fit", HOUSES, "-m", "zscore", "-o", tmp_path / "ref.json", "-q").code == 0
    assert json.loads((tmp_path / "s.json").read_text()) == json.loads((tmp_path / "ref.json").read_text())
    ref = run("transform", HOUSES, "-s", tmp_path / "ref.json", "-q")
    assert (tmp_path / "out.csv").read_bytes() == ref.out


def test_fit_apply_from_stdin_to_stdout_leaves_no_spool_file(tmp_path):
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    env = {**os.environ, "TMPDIR": str(spool_dir)}
    proc = subprocess.run(
        [str(NORMCLI), "fit", "-", "-m", "minmax", "--apply", "-s", str(tmp_path / "s.json"), "-q"],
        input=HOUSES.read_bytes(),
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(io.BytesIO(proc.stdout))
    assert out["price"].min() == 0 and out["price"].max() == 1
    assert list(spool_dir.iterdir()) == []
    bad = subprocess.run(
        [str(NORMCLI), "fit", "-", "-m", "log", "--apply", "-s", str(tmp_path / "t.json")],
        input=b"x\n1\n-2\n",
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stderr.decode().startswith("error: column 'x' has values <= 0"), bad.stderr
    assert list(spool_dir.iterdir()) == [] and not (tmp_path / "t.json").exists()


def test_fit_apply_spool_is_removed_on_sigterm(tmp_path):
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    env = {**os.environ, "TMPDIR": str(spool_dir)}
    proc = subprocess.Popen(
        [str(NORMCLI), "fit", "-", "-m", "minmax", "--apply", "-o", str(tmp_path / "o.csv")],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"x\n" + b"1\n" * 1000)
    proc.stdin.flush()
    while not list(spool_dir.iterdir()):  # the spool exists: stdin is being copied
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.stdin.close()
    assert proc.wait(timeout=60) == 143
    assert list(spool_dir.iterdir()) == [] and not (tmp_path / "o.csv").exists()


def test_fit_apply_to_parquet_with_output_format(tmp_path):
    r = run("fit", HOUSES, "-m", "minmax", "--apply", "--output-format", "parquet", "-o", tmp_path / "o.pq", "-q")
    assert r.code == 0, r.err
    table = pq.read_table(tmp_path / "o.pq")
    assert table.column("rooms").to_pylist()[:1] == [pytest.approx((4 - 1) / 7)]


def test_fit_without_apply_refuses_its_options():
    assert_clean_error(run("fit", HOUSES, "-m", "zscore", "-s", "x.json"), 2, "-s", "--apply")
