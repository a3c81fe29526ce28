"""Plain CSV -> CSV file as one polars streaming query (io/lazycsv.py): the same bytes, the same
statistics and the same errors as the chunked path it stands in for, which is the reference
here (NORMCLI_LAZY_CSV=0), and it hands the file back to that path where polars would read it
otherwise. Small polars chunks (POLARS_CSV_CHUNK_SIZE) make a small file many batches, which
polars' threads finish out of row order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fastcsv import WORDS, assert_same_statistics, fit_scaler, odd_table

import normcli.apply_steps as apply_steps
from normcli.api import load
from normcli.errors import DataError
from normcli.io import lazycsv, open_reader, open_writer
from normcli.pipeline import apply_stream

from conftest import assert_clean_error, run


def transform(csv: Path, scaler_path: Path, out: Path, lazy: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """Transform `csv` in process, by the lazy query (where it applies) or the chunked path:
    (the statistics of the scaled columns before and after, or the error's message; what the
    lazy query did: "lazy", "chunked: <why>", or "" where it was not tried)."""
    outcomes: list[str] = []
    original = lazycsv.LazyCsv.run

    def recorded(self: lazycsv.LazyCsv, *args: Any, **kwargs: Any) -> bool:
        try:
            return original(self, *args, **kwargs)
        finally:
            outcomes.append(self.outcome)

    scaler = load(str(scaler_path))
    with monkeypatch.context() as m:
        m.setattr(lazycsv.LazyCsv, "run", recorded)
        m.setenv("NORMCLI_LAZY_CSV", "1" if lazy else "0")
        try:
            reader = open_reader(str(csv), "csv", float_columns=scaler.names, text_passthrough=True)
            with reader, open_writer(str(out), "csv") as writer:
                result = apply_stream(reader, writer, scaler)
        except DataError as exc:
            return str(exc), "".join(outcomes)
    stats = {
        n: [(s.count, s.nulls, s.infs, s.mean, s.std(), s.min, s.max) for s in (result.before[n], result.after[n])]
        for n in result.before
    }
    return {"stats": stats, "counters": {n: vars(c) for n, c in result.counters.items()}}, "".join(outcomes)


def both(tmp_path: Path, csv: Path, scaler: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, str]:
    """(lazy result, chunked result, what the lazy query did); the output files are compared."""
    lazy, outcome = transform(csv, scaler, tmp_path / "lazy.csv", True, monkeypatch)
    chunked, _ = transform(csv, scaler, tmp_path / "chunked.csv", False, monkeypatch)
    if isinstance(chunked, str):
        assert not (tmp_path / "lazy.csv").exists()
        assert not (tmp_path / "chunked.csv").exists()
    else:
        assert (tmp_path / "lazy.csv").read_bytes() == (tmp_path / "chunked.csv").read_bytes()
    return lazy, chunked, outcome


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARS_CSV_CHUNK_SIZE", "4096")


def test_odd_table_is_one_query_with_the_same_bytes_and_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    csv = tmp_path / "odd.csv"
    csv.write_text(odd_table(3000, 4))  # quoted commas, quotes and line breaks; NaN tokens; empty fields
    scaler = fit_scaler(tmp_path, csv, "-m", "a=atan")
    batches = []
    original = apply_steps.BatchStep.__call__

    def counted(self: apply_steps.BatchStep, batch: Any, first_row: int) -> Any:
        batches.append(first_row)
        return original(self, batch, first_row)

    monkeypatch.setattr(apply_steps.BatchStep, "__call__", counted)
    lazy, chunked, outcome = both(tmp_path, csv, scaler, monkeypatch)
    assert outcome == "lazy"
    assert len(set(batches)) > 10  # many batches (and the chunked run's few)
    assert_same_statistics(lazy, chunked)


def test_statistics_do_not_depend_on_the_order_batches_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    """Merged in row order: the same digits every run, whichever batch polars finished first."""
    csv = tmp_path / "big.csv"
    rng = np.random.default_rng(5)
    rows = (
        f"{float(a)!r},w{k % 7},{float(b)!r}" for k, (a, b) in enumerate(rng.normal([1e9, 0], [1, 1e-6], (20_000, 2)))
    )
    csv.write_text("a,t,b\n" + "\n".join(rows) + "\n")
    scaler = fit_scaler(tmp_path, csv)
    runs = [transform(csv, scaler, tmp_path / f"out{k}.csv", True, monkeypatch) for k in range(3)]
    assert [outcome for _, outcome in runs] == ["lazy"] * 3
    assert runs[0][0] == runs[1][0] == runs[2][0]
    chunked, _ = transform(csv, scaler, tmp_path / "chunked.csv", False, monkeypatch)
    assert_same_statistics(runs[0][0], chunked)


# rows that polars reads otherwise than pyarrow, or that both refuse (each has its own test);
# and two that both read alike, where the query must be kept
ODD_ROWS = {
    "short row": "1.5,x",
    "short row of text": '1.5,"a,b"',
    "blank line": "",
    "crlf": "1.5,crlf,2\r",
    "lone quote": '1.5,x"y,2',
    "NA token": "NA,x,2",
    "unclosed quote": '1.5,"never closed,2',
    "not a number": "abc,x,2",
    "empty last field": "1.5,x,",
    "quoted empty text": '1.5,"",2',
}
READ_ALIKE = ("empty last field", "quoted empty text")


def file_with(tmp_path: Path, line: str) -> Path:
    """A plain file of 80,000 rows (quoted separators among them) with `line` far down it,
    past the MiB the reader sniffs."""
    text = ["w{}", "w{}", '"w,{}"']
    rows = [f"{k}.5,{text[k % 3].format(k % 10)},{k * 2}" for k in range(80_000)]
    rows.insert(75_000, line)
    csv = tmp_path / "in.csv"
    csv.write_text("a,t,b\n" + "\n".join(rows) + "\n")
    assert len("\n".join(rows[:75_000])) > 1 << 20
    return csv


@pytest.mark.parametrize("oddity", ODD_ROWS)
def test_what_polars_reads_otherwise_goes_back_to_the_chunked_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oddity: str
) -> None:
    """The chunked path's bytes or its error, and the lazy query only where polars reads the
    row as pyarrow does."""
    csv = file_with(tmp_path, ODD_ROWS[oddity])
    good = tmp_path / "good.csv"
    good.write_text("a,t,b\n1,x,2\n3,y,4\n")
    scaler = fit_scaler(tmp_path, good)
    lazy, chunked, outcome = both(tmp_path, csv, scaler, monkeypatch)
    if oddity.startswith("short row"):
        assert lazy == chunked
        assert "a row has 2 fields where the header has 3" in lazy
    else:
        assert_same_statistics(lazy, chunked)
    if oddity in READ_ALIKE:
        assert outcome == "lazy"
    else:
        assert outcome.startswith("chunked: "), outcome


@pytest.mark.parametrize("where", ["last column", "middle column", "last line"])
def test_an_unclosed_quote_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """pyarrow reads the rest of the file into that one value; the lazy query relies on polars
    refusing it (and then the chunked path names the quote)."""
    good = tmp_path / "good.csv"
    good.write_text("x,t,u\n1,a,b\n2,b,c\n")
    scaler = fit_scaler(tmp_path, good)  # x; t and u are text
    csv = tmp_path / "q.csv"
    rows = [f"{i},t{i},u" for i in range(200_000)]
    rows[150_000] = {"last column": '7,x,"never closed', "middle column": '7,"never closed,8'}.get(where, rows[150_000])
    if where == "last line":
        rows[-1] = '7,x,"never closed'
    csv.write_text("x,t,u\n" + "\n".join(rows) + "\n")
    lazy, chunked, outcome = both(tmp_path, csv, scaler, monkeypatch)
    assert lazy == chunked
    assert f"line {200_001 if where == 'last line' else 150_002}" in lazy and "never closed" in lazy
    assert outcome.startswith("chunked: ComputeError"), outcome  # polars refuses it, unlike pyarrow


def test_a_value_the_method_refuses_is_the_chunked_paths_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("x,t\n1,a\n2,b\n")
    scaler = tmp_path / "s.json"
    assert run("fit", good, "-m", "log", "-o", scaler, "-q").code == 0
    csv = tmp_path / "neg.csv"
    rows = [f"{i + 1},t" for i in range(5000)]
    rows[4000] = "-3,t"
    csv.write_text("x,t\n" + "\n".join(rows) + "\n")
    lazy, chunked, outcome = both(tmp_path, csv, scaler, monkeypatch)
    assert isinstance(lazy, str) and lazy == chunked
    assert outcome.startswith("chunked: DataError"), outcome


def test_an_interrupt_in_a_batch_stops_the_query_and_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    csv = tmp_path / "in.csv"
    csv.write_text("x,t\n" + "".join(f"{i}.25,t{i}\n" for i in range(20_000)))
    scaler = fit_scaler(tmp_path, csv)
    original = apply_steps.BatchStep.__call__
    calls = []

    def interrupted(self: apply_steps.BatchStep, batch: Any, first_row: int) -> Any:
        calls.append(first_row)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, batch, first_row)

    monkeypatch.setattr(apply_steps.BatchStep, "__call__", interrupted)
    out = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        transform(csv, scaler, out, True, monkeypatch)
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp*")) and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "scaler.json"]


def test_tsv_output_and_the_report_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = tmp_path / "odd.csv"
    csv.write_text(odd_table(500, 6))
    scaler = fit_scaler(tmp_path, csv, "-m", "a=atan")
    outputs = {}
    for lazy in ("1", "0"):
        monkeypatch.setenv("NORMCLI_LAZY_CSV", lazy)
        out, stats = tmp_path / f"out{lazy}.tsv", tmp_path / f"stats{lazy}.json"
        r = run("transform", csv, "-s", scaler, "-o", out, "--stats-json", stats)
        assert r.code == 0, r.err
        assert "a" in r.err and "after" in r.err  # the report's table
        outputs[lazy] = (out.read_bytes(), json.loads(stats.read_text()))
    assert outputs["1"][0] == outputs["0"][0]
    assert b"\t" in outputs["1"][0].splitlines()[0]
    assert_same_statistics(outputs["1"][1], outputs["0"][1])


def test_disk_full_is_one_clean_error(tmp_path: Path) -> None:
    """A device is written batch by batch (the query would need to start over into it)."""
    csv = tmp_path / "in.csv"
    csv.write_text("x,t\n1,a\n2,b\n")
    scaler = fit_scaler(tmp_path, csv)
    r = run("transform", csv, "-s", scaler, "-o", "/dev/full")
    assert_clean_error(r, 1, "No space left")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(
        st.tuples(st.one_of(st.floats(allow_nan=True, allow_infinity=False), st.none()), st.sampled_from(WORDS)),
        min_size=1,
        max_size=80,
    ),
    last_text=st.booleans(),
)
def test_any_table_same_bytes_as_the_chunked_path(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, values: list, last_text: bool
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    lines = ["t,x" if last_text else "x,t"]
    for x, word in values:
        text = '"' + word.replace('"', '""') + '"' if any(ch in word for ch in ',"\n') else word
        number = "" if x is None else repr(x)
        lines.append(f"{text},{number}" if last_text else f"{number},{text}")
    csv = tmp / "in.csv"
    csv.write_text("\n".join(lines) + "\n")
    finite = [x for x, _ in values if x is not None and np.isfinite(x)]
    if not finite:
        return  # nothing to fit
    scaler = tmp / "s.json"
    assert run("fit", csv, "-m", "minmax", "--columns", "x", "-o", scaler, "-q").code == 0
    with monkeypatch.context() as m:
        m.setenv("POLARS_CSV_CHUNK_SIZE", "512")
        lazy, chunked, outcome = both(tmp, csv, scaler, monkeypatch)
    assert_same_statistics(lazy, chunked)
    assert outcome == "lazy"


@pytest.mark.parametrize("where", ["stdout", "gzip output", "one column", "65 columns", "turned off", "Parquet output"])
def test_not_taken_where_it_does_not_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Those go batch by batch: the chunked path, or the general one."""
    width = {"one column": 1, "65 columns": 65}.get(where, 3)
    csv = tmp_path / "in.csv"
    csv.write_text(",".join(f"c{k}" for k in range(width)) + "\n" + ",".join("1.5" for _ in range(width)) + "\n")
    out = {"stdout": "-", "gzip output": str(tmp_path / "o.csv.gz"), "Parquet output": str(tmp_path / "o.parquet")}
    fmt = "parquet" if where == "Parquet output" else "csv"
    if where == "turned off":
        monkeypatch.setenv("NORMCLI_LAZY_CSV", "0")
    target = out.get(where, str(tmp_path / "o.csv"))
    with open_reader(str(csv), "csv", text_passthrough=True) as reader, open_writer(target, fmt) as writer:
        assert lazycsv.lazy_csv(reader, writer) is None
    if where == "65 columns":  # the same file, 64 columns wide, is taken
        csv.write_text(",".join(f"c{k}" for k in range(64)) + "\n" + ",".join("1.5" for _ in range(64)) + "\n")
        reader = open_reader(str(csv), "csv", text_passthrough=True)
        with reader, open_writer(str(tmp_path / "o.csv"), "csv") as writer:
            assert lazycsv.lazy_csv(reader, writer) is not None


def test_polars_tuning_is_restored_after_overlapping_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads (a Dask worker's) may run queries at once: no chunk size is left behind, and a
    user's own setting is kept throughout."""
    import os
    import threading
    import time

    monkeypatch.delenv("POLARS_CSV_CHUNK_SIZE", raising=False)
    seen: list[str | None] = []

    def queries(value: str) -> None:
        for k in range(100):
            with lazycsv._environ(POLARS_CSV_CHUNK_SIZE=value):
                seen.append(os.environ.get("POLARS_CSV_CHUNK_SIZE"))
                time.sleep((k % 3) * 1e-5)

    threads = [threading.Thread(target=queries, args=(str(k),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 400 and None not in seen
    assert "POLARS_CSV_CHUNK_SIZE" not in os.environ
    monkeypatch.setenv("POLARS_CSV_CHUNK_SIZE", "77")
    with lazycsv._environ(POLARS_CSV_CHUNK_SIZE="1"):
        assert os.environ["POLARS_CSV_CHUNK_SIZE"] == "77"
    assert os.environ["POLARS_CSV_CHUNK_SIZE"] == "77"


@pytest.mark.parametrize("name", ["data[1].csv", "data*.csv", "data?.csv", "~/data1.csv"])
def test_a_file_name_is_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """polars takes a path as a pattern unless told otherwise (data[1].csv would read
    data1.csv beside it) and a leading ~ as the home folder (~/data1.csv is in a folder named
    ~ here, not in $HOME): the file named is the one read, and the output goes where named."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for decoy in (tmp_path / "data1.csv", home / "data1.csv"):
        decoy.write_text("x,t\n100,z\n200,y\n")
    (tmp_path / "~").mkdir()
    csv = tmp_path / name
    csv.write_text("x,t\n1,a\n2,b\n3,c\n")
    scaler = tmp_path / "s.json"
    assert run("fit", name, "-m", "minmax", "-o", scaler, "-q", cwd=tmp_path).code == 0
    assert load(str(scaler)).columns[0].fitted == {"min": 1.0, "max": 3.0}
    out = "~/out.csv" if name.startswith("~") else f"out {name}"
    r = run("transform", name, "-s", scaler, "-o", out, "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert (tmp_path / out).read_text() == "x,t\n0.0,a\n0.5,b\n1.0,c\n"
    assert sorted(p.name for p in home.iterdir()) == ["data1.csv"]
