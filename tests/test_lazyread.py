"""`fit` on a plain CSV file reads it through a polars streaming query (io/lazyread.py): the same
scaler as the general path (pyarrow's reader, NORMCLI_LAZY_CSV=0), which it hands the file back
to where polars would read it otherwise. Small polars chunks make a small file many batches,
finished out of row order."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_fastcsv import WORDS, assert_same_statistics, odd_table
from test_lazycsv import ODD_ROWS, READ_ALIKE, file_with

import normcli.pipeline as pipeline
from normcli.errors import DataError
from normcli.io import lazyread, open_reader
from normcli.pipeline import fit_stream


def fit(csv: Path, lazy: bool, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[Any, str]:
    """(the fitted scaler as a dict, or the error's message; what the polars query did)."""
    made: list[lazyread.LazyCsvReader] = []

    def recorded(reader: Any, columns: list[str]) -> lazyread.LazyCsvReader | None:
        out = lazyread.lazy_reader(reader, columns)
        made.extend([out] if out is not None else [])
        return out

    with monkeypatch.context() as m:
        m.setattr(pipeline, "lazy_reader", recorded)
        m.setenv("NORMCLI_LAZY_CSV", "1" if lazy else "0")
        try:
            with open_reader(str(csv), "csv") as reader:
                result: Any = json.loads(fit_stream(reader, **{"method": "zscore", **options}).scaler.to_json())
        except DataError as exc:
            result = str(exc)
    return result, made[0].outcome if made else ""


def columns_of(scaler: Any) -> Any:
    """What a fit found per column: its fitted constants, statistics and profile."""
    if isinstance(scaler, str):
        return scaler
    return {c["name"]: (c["dtype"], c["fitted"], c["stats"], c["profile"]["counts"]) for c in scaler["columns"]}


def query_threads() -> list[threading.Thread]:
    """The threads of a polars query and its scan still running."""
    return [t for t in threading.enumerate() if t.name in ("normcli-polars", "normcli-scan")]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARS_CSV_CHUNK_SIZE", "4096")


def test_odd_table_same_scaler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None) -> None:
    csv = tmp_path / "odd.csv"
    csv.write_text(odd_table(3000, 8))  # quoted commas and line breaks, NaN tokens, empty fields
    lazy, outcome = fit(csv, True, monkeypatch, overrides={"a": "atan"})
    general, _ = fit(csv, False, monkeypatch, overrides={"a": "atan"})
    assert outcome == "lazy"
    assert_same_statistics(columns_of(lazy), columns_of(general))


def test_the_same_digits_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None) -> None:
    csv = tmp_path / "big.csv"
    rng = np.random.default_rng(9)
    values = rng.normal([1e9, 0], [1, 1e-6], (20_000, 2))
    csv.write_text("a,t,b\n" + "\n".join(f"{float(a)!r},w{k % 7},{float(b)!r}" for k, (a, b) in enumerate(values)))
    runs = [fit(csv, True, monkeypatch) for _ in range(3)]
    assert [outcome for _, outcome in runs] == ["lazy"] * 3
    assert runs[0][0] == runs[1][0] == runs[2][0]
    general, _ = fit(csv, False, monkeypatch)
    assert_same_statistics(columns_of(runs[0][0]), columns_of(general))


@pytest.mark.parametrize("oddity", ODD_ROWS)
def test_what_polars_reads_otherwise_is_read_again_by_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oddity: str
) -> None:
    """The general path's scaler, or its error."""
    csv = file_with(tmp_path, ODD_ROWS[oddity])
    lazy, outcome = fit(csv, True, monkeypatch)
    general, _ = fit(csv, False, monkeypatch)
    assert_same_statistics(columns_of(lazy), columns_of(general))
    if oddity in ("short row", "short row of text", "unclosed quote", "not a number"):
        assert isinstance(general, str)  # an error, the general path's
    if oddity in READ_ALIKE:
        assert outcome == "lazy"
    else:
        assert outcome.startswith("general: "), outcome


@pytest.mark.parametrize("how", ["interrupt", "caller stops early"])
def test_the_query_stops_with_its_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None, how: str
) -> None:
    csv = tmp_path / "in.csv"
    csv.write_text("x,t\n" + "".join(f"{i}.25,{WORDS[i % 3]}\n" for i in range(20_000)))
    with open_reader(str(csv), "csv") as reader:
        lazy = lazyread.lazy_reader(reader, ["x"])
        assert lazy is not None
        batches = lazy.batches(["x"])
        assert next(batches).num_rows > 0
        if how == "interrupt":
            with pytest.raises(KeyboardInterrupt):
                batches.throw(KeyboardInterrupt)
        else:
            batches.close()
    assert not query_threads()


def test_stats_same_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None) -> None:
    """`stats` reads the same way: moments, exact quantiles and the value counts of text."""
    from normcli.pipeline import profile_stream

    csv = tmp_path / "odd.csv"
    csv.write_text(odd_table(3000, 10))
    made: list[lazyread.LazyCsvReader] = []

    def recorded(reader: Any, columns: list[str]) -> lazyread.LazyCsvReader | None:
        out = lazyread.lazy_reader(reader, columns)
        made.extend([out] if out is not None else [])
        return out

    monkeypatch.setattr(pipeline, "lazy_reader", recorded)
    results = {}
    for lazy in (True, False):
        monkeypatch.setenv("NORMCLI_LAZY_CSV", "1" if lazy else "0")
        with open_reader(str(csv), "csv") as reader:
            profiles = profile_stream(reader)
        results[lazy] = {n: p.summary(0) if p.kind == "number" else p.summary() for n, p in profiles.items()}
    assert [m.outcome for m in made] == ["lazy"]
    assert results[True]["label"] == results[False]["label"]  # text: counts of each value
    assert_same_statistics(results[True], results[False])
