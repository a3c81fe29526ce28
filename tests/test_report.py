"""The before/after report fits the terminal: every number whole, names wrapped, --report choices."""

from __future__ import annotations

import json
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NORMCLI, Run

LONG = "monthly_average_temperature_at_the_northern_weather_station_in_celsius"
NUMBER = re.compile(r"^-?(\d{1,3}(,\d{3})*|\d+)(\.\d+)?(e[+-]\d+)?$|^-?inf$|^-$")


def run_cols(columns: int | None, *args: str | os.PathLike, cwd: Path | None = None) -> Run:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    proc = subprocess.run([str(NORMCLI), *map(str, args)], capture_output=True, cwd=cwd, timeout=120, env=env)
    return Run(proc.returncode, proc.stdout, proc.stderr.decode())


def wide_csv(path: Path, rows: int = 50) -> Path:
    rng = np.random.default_rng(7)
    cols = {
        "listed_at": 1.7e9 + rng.random(rows) * 6e7,
        "price": rng.lognormal(12, 1, rows),
        "tiny": rng.random(rows) * 3e-7,
        LONG: rng.normal(-3, 8, rows),
        "rooms": rng.integers(1, 9, rows).astype(float),
    }
    lines = [",".join(cols)] + [",".join(repr(float(cols[c][i])) for c in cols) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def parse_report(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """Every statistic cell of the wide, split or block layout: (column, stage) -> {stat: cell}."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    headers: list[str] = []
    name = title = ""
    block = False
    for line in text.splitlines():
        if "┃" in line:
            headers = [h.strip() for h in line.split("┃")]
            block = headers[0] == ""
            if block:  # a block's title, wrapped over lines: "name (method)"
                name, title = title.rsplit(" (", 1)[0], ""
            continue
        if "│" not in line:
            if line.strip() and not line.startswith(("fit:", "transform:", "inverse:", "warning:", "━", "─")):
                title += line.strip()
            continue
        parts = [p.strip() for p in line.split("│")]
        if block:  # stat │ before │ after
            for stage_name, cell in zip(headers[1:], parts[1:], strict=True):
                cells.setdefault((name, stage_name), {})[parts[0]] = cell
            continue
        row = dict(zip(headers, parts, strict=True))
        stat_cells = {h: v for h, v in row.items() if h not in ("column", "method", "stage")}
        if not any(stat_cells.values()):  # a wrapped name continues: file its cells under the whole name
            for key in [k for k in cells if k[0] == name]:
                cells.setdefault((name + row["column"], key[1]), {}).update(cells.pop(key))
            name += row["column"]
            continue
        if row["column"]:
            name = row["column"]
        cells.setdefault((name, row.get("stage", "")), {}).update(stat_cells)
    return cells


def as_number(cell: str) -> float:
    assert NUMBER.match(cell), f"not a whole number: {cell!r}"
    return float("nan") if cell == "-" else float(cell.replace(",", ""))


@pytest.mark.parametrize("columns", [80, 200, 44])
def test_no_number_is_cut_and_every_line_fits(tmp_path, columns):
    wide_csv(tmp_path / "wide.csv")
    # --no-hist: every cell parsed below is a number (histograms are drawn, see test_histogram.py)
    args = ("-m", "zscore", "-o", "s.json", "--stats-json", "st.json", "--no-hist")
    r = run_cols(columns, "fit", "wide.csv", *args, cwd=tmp_path)
    assert r.code == 0, r.err
    assert "…" not in r.err and "..." not in r.err
    assert max(len(line.rstrip()) for line in r.err.splitlines()) <= columns, r.err
    got = parse_report(r.err)
    expected = json.loads((tmp_path / "st.json").read_text())["columns"]
    assert {name for name, _ in got} == set(expected), r.err  # long names wrap, whole
    for name, entry in expected.items():
        for stage in ("before", "after"):
            row = got[name, stage]
            assert set(row) == {"count", "nulls", "mean", "std", "min", "max"}, row
            for stat, cell in row.items():
                want = entry[stage][stat]
                value = as_number(cell)
                if stat == "mean" and stage == "after":
                    assert value == pytest.approx(want, abs=1e-9)
                else:
                    assert value == pytest.approx(want, rel=1e-4, abs=1e-300), (name, stage, stat, cell)


def test_statistics_have_five_significant_digits_with_an_exponent_where_needed(tmp_path):
    (tmp_path / "t.csv").write_text("listed_at\n1700090000\n1762910000\n1731870000\n")
    r = run_cols(80, "fit", tmp_path / "t.csv", "-m", "minmax", "-o", tmp_path / "s.json")
    assert r.code == 0, r.err
    got = parse_report(r.err)
    assert got["listed_at", "before"]["min"] == "1.7001e+09"
    assert got["listed_at", "before"]["max"] == "1.7629e+09"
    assert got["listed_at", "after"]["max"] == "1"


def test_the_stage_column_has_a_header(tmp_path):
    src = wide_csv(tmp_path / "w.csv")
    r = run_cols(200, "fit", src, "-m", "zscore", "-o", tmp_path / "s.json")
    header = next(line for line in r.err.splitlines() if "┃" in line)
    assert [h.strip() for h in header.split("┃")][:3] == ["column", "method", "stage"]


def test_report_summary_is_one_line_per_column_with_before_and_after(tmp_path):
    (tmp_path / "c.csv").write_text("x,y\n5,1\n5,2\n5,3\n")
    r = run_cols(80, "fit", tmp_path / "c.csv", "-m", "zscore", "-o", tmp_path / "s.json", "--report", "summary")
    assert r.code == 0, r.err
    rows = {p[0]: p for p in ([c.strip() for c in line.split("│")] for line in r.err.splitlines() if "│" in line)}
    assert rows["x"] == ["x", "zscore", "5 -> 0", "0 -> 0", "1"]  # constant: one warning
    assert rows["y"] == ["y", "zscore", "2 -> 0", "0.8165 -> 1", "0"]
    assert "warning: column 'x' is constant" in r.err


def test_report_none_prints_warnings_only_and_quiet_prints_nothing(tmp_path):
    (tmp_path / "c.csv").write_text("x,y\n5,1\n5,2\n5,3\n")
    r = run_cols(80, "fit", tmp_path / "c.csv", "-m", "zscore", "-o", tmp_path / "s.json", "--report", "none")
    assert r.code == 0 and r.err.splitlines() == ["warning: column 'x' is constant (5.0); zscore maps it to 0"]
    r = run_cols(80, "fit", tmp_path / "c.csv", "-m", "zscore", "-o", tmp_path / "s.json", "--report", "full", "-q")
    assert r.code == 0 and r.err == ""


def test_a_file_of_many_columns_gets_the_summary_by_default(tmp_path):
    names = [f"c{i}" for i in range(120)]
    (tmp_path / "many.csv").write_text(
        ",".join(names) + "\n" + ",".join(map(str, range(120))) + "\n" + "1," * 119 + "1\n"
    )
    s = tmp_path / "s.json"
    r = run_cols(100, "fit", tmp_path / "many.csv", "-m", "minmax", "-o", s)
    assert r.code == 0, r.err
    lines = [line for line in r.err.splitlines() if "│" in line]
    assert len(lines) == 120 and "mean before -> after" in r.err
    r = run_cols(100, "transform", tmp_path / "many.csv", "-s", s, "-o", tmp_path / "o.csv", "--report", "full")
    assert r.code == 0 and sum("│" in line for line in r.err.splitlines()) >= 240


def test_transform_and_lrn_reports_fit_80_columns(tmp_path):
    src = wide_csv(tmp_path / "w.csv")
    assert run_cols(80, "fit", src, "-m", "minmax", "-o", tmp_path / "s.json", "-q").code == 0
    r = run_cols(80, "transform", src, "-s", tmp_path / "s.json", "-o", tmp_path / "o.csv")
    assert r.code == 0 and "…" not in r.err
    assert max(len(line.rstrip()) for line in r.err.splitlines()) <= 80
    acts = (np.random.default_rng(1).random((2, 6, 3, 3)) * 3e5).astype(np.float32)
    np.save(tmp_path / "a.npy", acts)
    r = run_cols(80, "lrn", tmp_path / "a.npy", "-o", tmp_path / "b.npy", "--size", "3")
    assert r.code == 0 and "…" not in r.err, r.err
    assert max(len(line.rstrip()) for line in r.err.splitlines()) <= 80
    for line in r.err.splitlines():
        if "│" in line:
            for cell in [c.strip() for c in line.split("│")][2:]:
                if not cell.endswith("%"):
                    as_number(cell)


def test_a_column_name_with_markup_is_printed_as_written(tmp_path):
    (tmp_path / "m.csv").write_text("[red]x[/red],y\n1,2\n3,5\n")
    r = run_cols(120, "fit", tmp_path / "m.csv", "-m", "minmax", "-o", tmp_path / "s.json")
    assert r.code == 0 and "[red]x[/red]" in r.err, r.err


# --- properties of the layout itself, in process ---------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(value=finite)
def test_fmt_reads_back_to_five_significant_digits(value):
    from normcli.report import fmt

    text = fmt(value)
    assert NUMBER.match(text) and len(text) <= 12, text
    # as decimals: 1.7977e+308, the largest float to 5 digits, is beyond float64 itself
    assert abs(Decimal(text) - Decimal(value)) <= abs(Decimal(value)) * Decimal("5e-5")


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.text(alphabet="abcdefghij_[]/ ", min_size=1, max_size=60), min_size=1, max_size=5, unique=True),
    values=st.lists(finite, min_size=12, max_size=12),
    width=st.integers(40, 220),
)
def test_every_number_is_printed_whole_at_any_width(names, values, width):
    import io

    from rich.console import Console

    from normcli.report import fmt
    from normcli.tables import Grid, Record, render

    cells = [fmt(v) for v in values]
    records = [Record(n, ["zscore"], [("before", cells[:6]), ("after", cells[6:])]) for n in names]
    grid = Grid("fit: x.csv", "column", ["method"], "stage", ["count", "nulls", "mean", "std", "min", "max"], records)
    out = io.StringIO()
    con = Console(file=out, width=width, no_color=True, highlight=False, soft_wrap=False)
    for renderable in render(grid, width):
        con.print(renderable)
    text = out.getvalue()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    printed = [c.strip() for line in text.splitlines() if "│" in line for c in line.split("│")]
    for cell in set(cells):
        assert cell in printed, (cell, text)
