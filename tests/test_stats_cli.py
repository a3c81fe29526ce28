"""`normcli stats` as a data person uses it: sample std, quantiles, text and date columns,
column globs and exclusions, and the statistics themselves piped as CSV, TSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE, assert_clean_error, run

HOUSES = SAMPLE / "houses.csv"
QUANTILES = {"p1": 0.01, "p25": 0.25, "median": 0.5, "p75": 0.75, "p99": 0.99}


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    return pd.read_csv(HOUSES)


def test_std_is_the_sample_one_by_default_as_in_pandas(houses):
    r = run("stats", HOUSES, "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    for name in ("price", "area_sqm", "temperature_c"):
        assert data[name]["ddof"] == 1
        assert data[name]["std"] == pytest.approx(houses[name].std(), rel=1e-12)  # pandas: ddof 1
    r = run("stats", HOUSES, "--json", "--ddof", "0", "--columns", "price")
    assert json.loads(r.out)["price"]["std"] == pytest.approx(np.std(houses["price"]), rel=1e-12)


def test_the_table_says_which_std_it_is():
    r = run("stats", HOUSES)
    assert r.code == 0 and "std: sample, ddof 1" in r.text, r.text
    r = run("stats", HOUSES, "--ddof", "0")
    assert "std: population, ddof 0" in r.text


def test_quantiles_are_exact_on_a_file_that_fits_in_memory(houses):
    data = json.loads(run("stats", HOUSES, "--json").out)
    for name in ("price", "area_sqm", "listed_at", "distance_km"):
        for label, q in QUANTILES.items():
            assert data[name][label] == houses[name].quantile(q), (name, label)
        assert data[name]["quantile_rank_error"] == 0


def test_text_and_date_columns_get_count_nulls_distinct_and_most_common(tmp_path):
    (tmp_path / "t.csv").write_text(
        "city,sold_on,price\nPorto,2024-03-01,1\nFaro,2024-01-15,2\nPorto,,3\n,2023-12-31,4\nPorto,2024-03-01,5\n"
    )
    r = run("stats", tmp_path / "t.csv", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert list(data) == ["city", "sold_on", "price"]
    city, sold = data["city"], data["sold_on"]
    assert (city["type"], city["count"], city["nulls"], city["distinct"]) == ("text", 4, 1, 2)
    assert (city["most_common"], city["most_common_count"]) == ("Porto", 3)
    assert (sold["type"], sold["count"], sold["nulls"], sold["distinct"]) == ("date", 4, 1, 3)
    assert (sold["min"], sold["max"], sold["most_common"]) == ("2023-12-31", "2024-03-01", "2024-03-01")
    table = run("stats", tmp_path / "t.csv")
    rows = {p[0]: p for p in ([c.strip() for c in line.split("│")] for line in table.text.splitlines() if "│" in line)}
    assert rows["city"][:6] == ["city", "text", "4", "1", "2", "Porto"]
    assert rows["sold_on"][1:4] == ["date", "4", "1"]


def test_output_format_csv_and_tsv_pipe_the_statistics(houses):
    data = json.loads(run("stats", HOUSES, "--json").out)
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        r = run("stats", HOUSES, "--output-format", fmt)
        assert r.code == 0 and r.err == "", r.err
        rows = list(csv.DictReader(io.StringIO(r.text), delimiter=delimiter))
        assert [row["column"] for row in rows] == list(houses.columns)
        by_name = {row["column"]: row for row in rows}
        for name in ("price", "rooms", "temperature_c"):
            for key in ("mean", "std", "min", "p25", "median", "max"):
                assert float(by_name[name][key]) == data[name][key]  # every digit
        assert by_name["city"]["type"] == "text" and by_name["city"]["mean"] == ""


def test_json_is_an_alias_and_conflicts_are_refused():
    assert run("stats", HOUSES, "--json").out == run("stats", HOUSES, "--output-format", "json").out
    assert_clean_error(run("stats", HOUSES, "--json", "--output-format", "csv"), 2, "--json", "csv")


def test_columns_take_globs_and_exclude_leaves_some_out():
    data = json.loads(run("stats", HOUSES, "--json", "--columns", "*_*", "--exclude", "listed_at").out)
    assert list(data) == ["area_sqm", "temperature_c", "distance_km"]
    data = json.loads(run("stats", HOUSES, "--json", "--columns", "p?ice", "--columns", "rooms,city").out)
    assert list(data) == ["price", "rooms", "city"]
    r = run("stats", HOUSES, "--columns", "temp*", "--exclude", "temp*")
    assert_clean_error(r, 1, "--exclude leaves no column")
    assert_clean_error(run("stats", HOUSES, "--columns", "nope_*"), 2, "'nope_*'", "matches no column")


def test_a_column_name_with_a_comma(tmp_path):
    (tmp_path / "c.csv").write_text('"price, EUR",rooms\n1,2\n3,4\n')
    for args in (["--columns", "price, EUR"], ["--columns", "price\\, EUR,rooms"]):
        r = run("stats", tmp_path / "c.csv", "--json", *args)
        assert r.code == 0, r.err
        assert json.loads(r.out)["price, EUR"]["mean"] == 2.0


def test_stats_of_a_directory_says_so(tmp_path):
    (tmp_path / "parts").mkdir()
    assert_clean_error(run("stats", tmp_path / "parts"), 1, "is a directory")


def test_stats_table_at_80_columns_has_every_number_whole(tmp_path):
    import os
    import subprocess

    from conftest import NORMCLI

    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([str(NORMCLI), "stats", str(HOUSES)], capture_output=True, env=env, timeout=120)
    text = proc.stdout.decode()
    assert proc.returncode == 0 and "…" not in text.split("text, date")[0]
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    data = json.loads(run("stats", HOUSES, "--json").out)
    seen: dict[str, dict[str, str]] = {}
    headers: list[str] = []
    for line in text.split("text, date")[0].splitlines():
        if "┃" in line:
            headers = [h.strip() for h in line.split("┃")]
        elif "│" in line:
            cells = dict(zip(headers, (c.strip() for c in line.split("│")), strict=True))
            seen.setdefault(cells.pop("column"), {}).update(cells)
    for name, cells in seen.items():
        assert set(cells) == {"count", "nulls", "mean", "std", "min", "max", *QUANTILES}
        for key, cell in cells.items():
            assert float(cell.replace(",", "")) == pytest.approx(data[name][key], rel=1e-4), (name, key, cell)


def test_an_npy_array_is_described_per_feature(tmp_path: Path):
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.save(tmp_path / "x.npy", x)
    data = json.loads(run("stats", tmp_path / "x.npy", "--json").out)
    assert list(data) == ["0", "1", "2"]
    assert data["1"]["median"] == np.median(x[:, 1])
    assert data["2"]["std"] == pytest.approx(np.std(x[:, 2], ddof=1), rel=1e-12)


def test_past_the_memory_budget_quantiles_come_from_the_sketch_with_a_stated_error(tmp_path, monkeypatch):
    from normcli import pipeline
    from normcli.io import open_reader
    from normcli.report import quantile_note

    values = np.random.default_rng(5).lognormal(0, 1.5, 200_000)
    (tmp_path / "big.csv").write_text("x,y\n" + "".join(f"{v!r},{i % 7}\n" for i, v in enumerate(values.tolist())))
    monkeypatch.setattr(pipeline, "EXACT_QUANTILE_BUDGET", 2 * 8 * 20_000)  # 20,000 values a column
    with open_reader(str(tmp_path / "big.csv")) as reader:
        profiles = pipeline.profile_stream(reader)
    d = profiles["x"].summary(1)
    assert 0 < d["quantile_rank_error"] < 0.01
    ordered = np.sort(values)
    for label, q in QUANTILES.items():
        lo, hi = np.searchsorted(ordered, d[label], "left"), np.searchsorted(ordered, d[label], "right")
        slack = d["quantile_rank_error"] * values.size + 1
        assert lo - slack <= q * values.size <= hi + slack, label
    assert "rank error at most" in (quantile_note({"x": d}) or "")


def test_a_most_common_value_with_a_line_break_keeps_the_table_whole(tmp_path):
    (tmp_path / "n.csv").write_text('note,x\n"two\nlines",1\n"two\nlines",2\nother,3\n')
    r = run("stats", tmp_path / "n.csv")
    assert r.code == 0, r.err
    row = next(line for line in r.text.splitlines() if line.startswith("note"))
    assert "two\\nlines" in row
    assert json.loads(run("stats", tmp_path / "n.csv", "--json").out)["note"]["most_common"] == "two\nlines"
