"""The fast CSV path (polars parses plain files in chunks) writes the same bytes and the same
statistics as the general path (pyarrow's streaming reader), on odd shapes too.

The general path is what reading stdin takes, so `cat x.csv | normcli transform -` is the
reference for `normcli transform x.csv`. In-process tests shrink the chunk so that a small
file spans many chunks, and check which path each chunk took."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normcli.api import load
from normcli.errors import DataError
from normcli.io import fastcsv, open_reader, open_writer
from normcli.io.fastcsv import FastCsvReader, fast_reader
from normcli.pipeline import apply_stream, fit_stream

from conftest import assert_clean_error, run

WORDS = ["alpha", "beta", "gamma delta", "epsilon, zeta", 'eta "theta"', "", "line\nbreak", "ünï", "007", "NA"]


def odd_table(rows: int, seed: int) -> str:
    """A CSV with NaN tokens, empty fields, quoted text (commas, quotes, line breaks), huge and
    tiny values, negative zero, integers written with leading zeros, and a text column."""
    rng = np.random.default_rng(seed)
    specials = ["", "nan", "NaN", "inf", "-inf", "1e308", "-1.7976931348623157e308", "5e-324", "-0", "0007", "1e-300"]
    lines = ["a,label,b,c,i"]
    for r in range(rows):
        a = specials[r % len(specials)] if r % 3 == 0 else repr(float(rng.normal(1e9, 1.0)))
        word = WORDS[int(rng.integers(len(WORDS)))]
        label = '"' + word.replace('"', '""') + '"' if any(ch in word for ch in ',"\n') else word
        b = repr(float(rng.normal(0, 1e-3))) if r % 7 else ""
        c = repr(float(rng.uniform(-1e6, 1e6)))
        i = str(int(rng.integers(-1000, 1000)))
        lines.append(",".join([a, label, b, c, i]))
    return "\n".join(lines) + "\n"


def fit_scaler(tmp_path: Path, csv: Path, *args: str) -> Path:
    scaler = tmp_path / "scaler.json"
    r = run("fit", csv, "-m", "zscore", "-o", scaler, "-q", *args)
    assert r.code == 0, r.err
    return scaler


def transform_both_ways(tmp_path: Path, csv: Path, scaler: Path, *args: str) -> tuple[bytes, bytes, dict, dict]:
    """(fast output, general output, fast statistics, general statistics)."""
    fast_out, fast_stats = tmp_path / "fast.csv", tmp_path / "fast.json"
    r = run("transform", csv, "-s", scaler, "-o", fast_out, "--stats-json", fast_stats, *args)
    assert r.code == 0, r.err
    general_stats = tmp_path / "general.json"
    g = run("transform", "-", "-s", scaler, "--stats-json", general_stats, "-q", *args, stdin=csv.read_bytes())
    assert g.code == 0, g.err
    return fast_out.read_bytes(), g.out, json.loads(fast_stats.read_text()), json.loads(general_stats.read_text())


def assert_same_statistics(a: object, b: object, scale: float = 1.0) -> None:
    """Counts equal; floats equal to 1e-12 of the column's magnitude (the batch split differs,
    and a mean that cancels to far below the values keeps only their absolute precision)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b)
        if {"min", "max"} <= set(a):
            scale = max(abs(v) for v in (a["min"], a["max"], 1.0) if isinstance(v, float | int))
        for k in a:
            assert_same_statistics(a[k], b[k], scale)
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b)
        if len(a) == 7 and isinstance(a[5], float):  # (count, nulls, infs, mean, std, min, max)
            scale = max(abs(v) for v in (a[5], a[6], 1.0) if math.isfinite(v))
        for x, y in zip(a, b, strict=True):
            assert_same_statistics(x, y, scale)
    elif isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), (a, b)
            return
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12 * scale), (a, b, scale)
    elif isinstance(a, str) and isinstance(b, str) and "<stdin>" in (a, b):
        pass  # the input's name: a file on one path, stdin on the other
    else:
        assert a == b


def test_odd_table_same_bytes_and_statistics(tmp_path: Path) -> None:
    csv = tmp_path / "odd.csv"
    csv.write_text(odd_table(400, 1))
    scaler = fit_scaler(tmp_path, csv, "-m", "a=atan")
    fast, general, fs, gs = transform_both_ways(tmp_path, csv, scaler)
    assert fast == general
    assert fast.count(b"\n") > 400  # the quoted line breaks stayed inside their fields
    assert_same_statistics(fs, gs)


@pytest.mark.parametrize("shape", ["one column", "300 columns", "integers", "huge and tiny"])
def test_shapes_same_bytes(tmp_path: Path, shape: str) -> None:
    rng = np.random.default_rng(7)
    if shape == "one column":
        text = "x\n" + "".join(f"{float(v)!r}\n" for v in rng.normal(5, 2, 300))
    elif shape == "300 columns":
        names = ",".join(f"c{k}" for k in range(300))
        rows = [",".join(repr(float(v)) for v in rng.normal(k, 1 + k, 300)) for k in range(20)]
        text = names + "\n" + "\n".join(rows) + "\n"
    elif shape == "integers":
        text = "a,b,c\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rng.integers(-(10**12), 10**12, (300, 3)))
    else:
        values = [1e300, -1e-300, 5e-324, 1.7976931348623157e308, 0.0, -0.0, 123456789.123456789, 1e-5]
        text = "x,y\n" + "".join(f"{values[i % 8]!r},{values[(i * 3) % 8]!r}\n" for i in range(64))
    csv = tmp_path / "in.csv"
    csv.write_text(text)
    scaler = tmp_path / "s.json"
    assert run("fit", csv, "-m", "minmax", "-o", scaler, "-q").code == 0
    fast, general, fs, gs = transform_both_ways(tmp_path, csv, scaler)
    assert fast == general
    assert_same_statistics(fs, gs)


def test_inverse_and_precision_same_bytes(tmp_path: Path) -> None:
    csv = tmp_path / "odd.csv"
    csv.write_text(odd_table(200, 2))
    scaler = fit_scaler(tmp_path, csv, "-m", "a=atan")
    for args in (("--precision", "6"), ("--dtype", "float32")):
        fast, general, _, _ = transform_both_ways(tmp_path, csv, scaler, *args)
        assert fast == general, args
    scaled = tmp_path / "scaled.csv"
    assert run("transform", csv, "-s", scaler, "-o", scaled, "-q").code == 0
    back = tmp_path / "back.csv"
    r = run("inverse", scaled, "-s", scaler, "-o", back, "-q")
    assert r.code == 0, r.err
    g = run("inverse", "-", "-s", scaler, "-q", stdin=scaled.read_bytes())
    assert back.read_bytes() == g.out


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("1,x,2\n3,y\n", "a row has 2 fields where the header has 3"),
        ("1,x,2\n3,y,4,5\n", "a row has 4 fields where the header has 3"),
        ("1,x,2\nabc,y,4\n", "non-numeric value 'abc'"),
    ],
)
def test_bad_rows_give_the_general_paths_error(tmp_path: Path, body: str, fragment: str) -> None:
    """A short row, which polars would fill with nulls, is refused as pyarrow refuses it."""
    good = tmp_path / "good.csv"
    good.write_text("a,t,b\n1,x,2\n3,y,4\n")
    scaler = fit_scaler(tmp_path, good)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,t,b\n" + body)
    out = tmp_path / "out.csv"
    r = run("transform", bad, "-s", scaler, "-o", out)
    g = run("transform", "-", "-s", scaler, stdin=bad.read_bytes())
    assert_clean_error(r, 1, fragment)
    assert r.err.replace(str(bad), "<stdin>") == g.err
    assert not out.exists()


# --- in process: tiny chunks, so a small file spans many of them ---------------------------------


def apply_file(csv: Path, scaler_path: Path, out: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    """Transform `csv` in process, by the fast path or the general one: the statistics of
    the scaled columns, or the error's message."""
    import normcli.pipeline as pipeline

    scaler = load(str(scaler_path))
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(pipeline, "fast_reader", lambda reader, writer=None: reader)
        try:
            reader = open_reader(str(csv), "csv", float_columns=scaler.names, text_passthrough=True)
            with reader, open_writer(str(out), "csv") as writer:
                result = apply_stream(reader, writer, scaler)
        except DataError as exc:
            return str(exc)
    return {n: (s.count, s.nulls, s.infs, s.mean, s.std(), s.min, s.max) for n, s in result.before.items()}


def paths_taken(csv: Path, names: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(chunks parsed by polars, chunks or remainders handed to pyarrow) reading `csv`."""
    calls = {"chunks": 0, "pyarrow": 0}

    def counted(method: object, key: str) -> object:
        def wrapper(*args: object, **kwargs: object) -> object:
            calls[key] += 1
            return method(*args, **kwargs)  # type: ignore[operator]

        return wrapper

    with monkeypatch.context() as m:
        m.setattr(fastcsv._ChunkParser, "__call__", counted(fastcsv._ChunkParser.__call__, "chunks"))
        m.setattr(FastCsvReader, "_general_chunk", counted(FastCsvReader._general_chunk, "pyarrow"))
        m.setattr(FastCsvReader, "_general_rest", counted(FastCsvReader._general_rest, "pyarrow"))
        reader = fast_reader(open_reader(str(csv), "csv", float_columns=names, text_passthrough=True))
        assert isinstance(reader, FastCsvReader)
        try:
            with reader:
                for _ in reader.batches():
                    pass
        except DataError:
            pass
    return calls["chunks"] - calls["pyarrow"], calls["pyarrow"]


def test_many_chunks_same_bytes_and_statistics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = tmp_path / "odd.csv"
    csv.write_text(odd_table(600, 3))
    scaler = fit_scaler(tmp_path, csv, "-m", "a=atan")
    monkeypatch.setattr(fastcsv, "CHUNK_BYTES", 512)
    polars_chunks, _ = paths_taken(csv, ["a", "b", "c", "i"], monkeypatch)
    assert polars_chunks > 10
    fast = apply_file(csv, scaler, tmp_path / "fast.csv", True, monkeypatch)
    general = apply_file(csv, scaler, tmp_path / "general.csv", False, monkeypatch)
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "general.csv").read_bytes()
    assert_same_statistics(fast, general)


@pytest.mark.parametrize(
    "oddity",
    ["blank line", "crlf", "bare cr", "lone quote", "NA token", "trailing space", "short row", "empty last field"],
)
def test_odd_chunks_fall_back_to_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oddity: str) -> None:
    """A chunk polars might read otherwise is read by pyarrow; the rest stays fast. The odd
    row lies beyond the first MiB, which the general reader sniffs (and would refuse)."""
    rows = [f"{k}.5,w{k % 10},{k * 2}" for k in range(80_000)]
    odd = {
        "blank line": "\n",
        "crlf": "1,crlf,2\r",
        "bare cr": "1,x\ry,2",
        "lone quote": '1,x"y,2',
        "NA token": "NA,x,2",
        "trailing space": "1 ,x,2",
        "short row": "1,x",
        "empty last field": "1,x,",
    }[oddity]
    good = tmp_path / "good.csv"
    good.write_text("a,t,b\n" + "\n".join(rows) + "\n")
    scaler = tmp_path / "s.json"
    assert run("fit", good, "-m", "zscore", "--columns", "a,b", "-o", scaler, "-q").code == 0
    rows.insert(75_000, odd)
    csv = tmp_path / "in.csv"
    csv.write_text("a,t,b\n" + "\n".join(rows) + "\n")
    assert len("\n".join(rows[:75_000])) > 1 << 20
    monkeypatch.setattr(fastcsv, "CHUNK_BYTES", 1 << 16)
    polars_chunks, pyarrow_chunks = paths_taken(csv, ["a", "b"], monkeypatch)
    assert polars_chunks > 3
    assert (pyarrow_chunks == 0) if oddity == "empty last field" else (pyarrow_chunks >= 1)
    fast = apply_file(csv, scaler, tmp_path / "fast.csv", True, monkeypatch)
    general = apply_file(csv, scaler, tmp_path / "general.csv", False, monkeypatch)
    if oddity in ("bare cr", "short row"):  # pyarrow refuses these rows, on both paths
        assert fast == general == f"{csv}: a row has 2 fields where the header has 3: '1,x'"
        assert not (tmp_path / "fast.csv").exists()
        return
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "general.csv").read_bytes()
    assert_same_statistics(fast, general)


def test_not_taken_where_it_does_not_apply(tmp_path: Path) -> None:
    csv = tmp_path / "in.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n3,4\n")
    plain = open_reader(str(csv), "csv", float_columns=["a", "b"], text_passthrough=True)
    assert isinstance(fast_reader(plain), FastCsvReader)
    with open_reader(str(bom), "csv", float_columns=["a", "b"], text_passthrough=True) as r:
        assert fast_reader(r) is r
    with open_reader(str(csv), "csv") as r, open_writer(str(tmp_path / "o.parquet"), "parquet") as w:
        assert fast_reader(r, w) is r


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(
        st.tuples(
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()),
            st.sampled_from(WORDS),
            st.integers(-(2**53), 2**53),
        ),
        min_size=1,
        max_size=60,
    ),
    chunk=st.integers(16, 400),
)
def test_any_table_any_chunk_same_bytes(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, values: list, chunk: int
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    lines = ["x,t,n"]
    for x, word, n in values:
        text = '"' + word.replace('"', '""') + '"' if any(ch in word for ch in ',"\n') else word
        lines.append(f"{'' if x is None else repr(x)},{text},{n}")
    csv = tmp / "in.csv"
    csv.write_text("\n".join(lines) + "\n")
    scaler = tmp / "s.json"
    try:
        with open_reader(str(csv), "csv") as reader:
            scaler.write_text(fit_stream(reader, method="atan", columns=["x", "n"]).scaler.to_json())
    except DataError:  # e.g. no finite value to fit
        return
    monkeypatch.setattr(fastcsv, "CHUNK_BYTES", chunk)
    fast = apply_file(csv, scaler, tmp / "fast.csv", True, monkeypatch)
    general = apply_file(csv, scaler, tmp / "general.csv", False, monkeypatch)
    assert (tmp / "fast.csv").read_bytes() == (tmp / "general.csv").read_bytes()
    assert_same_statistics(fast, general)


# --- the dialect and the hardening hold on the fast path too -------------------------------------------


def test_missing_value_tokens_read_as_the_general_path_reads_them(tmp_path: Path) -> None:
    """`?`, `None` and `NA` (the default tokens) in a scaled column far down a plain file: nulls
    on both paths, the same bytes and statistics (polars alone would refuse or misread them)."""
    csv = tmp_path / "tokens.csv"
    rows = [f"{i % 97}.5,{i}" for i in range(150_000)]
    rows[140_000], rows[140_001], rows[140_002] = "?,1", "None,2", "NA,3"
    csv.write_text("x,y\n" + "\n".join(rows) + "\n")
    assert csv.stat().st_size > 1 << 20  # past the sniffed head
    scaler = fit_scaler(tmp_path, csv)
    fast, general, fast_stats, general_stats = transform_both_ways(tmp_path, csv, scaler)
    assert fast == general
    assert fast_stats["columns"]["x"]["before"]["nulls"] == 3
    assert_same_statistics(fast_stats, general_stats, 100.0)


def test_an_unclosed_quote_far_down_is_named_on_the_fast_path(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("x,t\n1,a\n2,b\n")
    scaler = fit_scaler(tmp_path, good)
    csv = tmp_path / "q.csv"
    rows = [f"{i},t{i}" for i in range(200_000)]
    rows[150_000] = '7,"never closed'
    csv.write_text("x,t\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out.csv"
    r = run("transform", csv, "-s", scaler, "-o", out)
    assert_clean_error(r, 1, "q.csv", "line 150002", "never closed")
    assert not out.exists()
