"""Real-world CSV (issue 11): dialects, compression, encodings, missing-value tokens, integer
round trips and binary output kept off terminals, each run through the real `normcli` on
files the tests write the way other tools and locales write them."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import pty
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normcli.io import open_reader
from normcli.io.dialect import DialectOptions
from normcli.pipeline import stats_stream

from conftest import NORMCLI, assert_clean_error, run

HOUSES = [("H1", "Porto", 100000, 3, 52.5), ("H2", "Faro", 250000, 4, 81.25), ("H3", "Lisboa", 175000, 2, 40.0)]


def fit_json(*args) -> dict:
    r = run("fit", *args, "-m", "zscore", "-q")
    assert r.code == 0, r.err
    return json.loads(r.out)


def fitted(scaler: dict) -> dict[str, tuple[float, float]]:
    return {c["name"]: (c["fitted"]["mean"], c["fitted"]["std"]) for c in scaler["columns"]}


def moments(column: dict) -> dict:
    """count, nulls, mean, std, min and max of a `stats --json` column."""
    return {key: column[key] for key in ("count", "nulls", "mean", "std", "min", "max")}


def stats_of(*args, stdin: bytes | None = None) -> dict:
    r = run("stats", *args, "--json", stdin=stdin)
    assert r.code == 0, r.err
    return json.loads(r.out)


def rows_of(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.strip().splitlines()]


PRICE = (100000 + 250000 + 175000) / 3


# --- delimiters -----------------------------------------------------------------------------------


def test_a_tab_separated_file_named_csv_is_read_by_its_tabs(tmp_path):
    src = tmp_path / "houses.csv"
    src.write_text("id\tcity\tprice\trooms\n" + "".join(f"{i}\t{c}\t{p}\t{r}\n" for i, c, p, r, _ in HOUSES))
    scaler = fit_json(src)
    assert scaler["input_columns"] == ["id", "city", "price", "rooms"]
    assert fitted(scaler)["price"][0] == pytest.approx(PRICE, rel=1e-15)
    r = run("transform", src, "-s", "-", "-q", stdin=json.dumps(scaler).encode())
    assert r.code == 0, r.err
    out = rows_of(r.text)  # standard CSV out: commas
    assert out[0] == ["id", "city", "price", "rooms"] and out[1][:2] == ["H1", "Porto"]


def test_semicolons_with_decimal_commas_are_sniffed(tmp_path):
    src = tmp_path / "wetter.csv"
    src.write_text("station;temp;wind\nBerlin;-1,5;12,25\nMünchen;3,5;7\nHamburg;2;9,75\n", encoding="utf-8")
    stats = stats_of(src)
    assert stats["temp"]["mean"] == pytest.approx(4 / 3, rel=1e-15)
    assert stats["wind"]["min"] == 7.0 and stats["wind"]["max"] == 12.25
    s = tmp_path / "s.json"
    assert run("fit", src, "-m", "minmax", "-o", s, "-q").code == 0
    r = run("transform", src, "-s", s, "-q")
    assert r.code == 0, r.err
    assert r.text.splitlines()[1] == "Berlin,0.0,1.0"  # written as standard CSV: comma, decimal point


def test_decimal_comma_can_be_given_where_sniffing_would_not_guess(tmp_path):
    src = tmp_path / "d.csv"
    src.write_text("a;b\n1,000;2\n3,000;4\n")  # 1,000 may be a thousands separator: not sniffed
    assert stats_of(src)["a"]["type"] == "text"  # stats describes it, as text
    assert stats_of(src, "--decimal", ",")["a"]["max"] == 3.0


@pytest.mark.parametrize("sep", ["|", " "])
def test_pipes_and_single_spaces(tmp_path, sep):
    src = tmp_path / "t.txt"
    src.write_text(f"x{sep}y\n1{sep}2\n3{sep}4\n")
    assert stats_of(src, "--format", "csv")["y"]["mean"] == 3.0


def test_runs_of_spaces_as_an_aligned_table_prints_them(tmp_path):
    src = tmp_path / "aligned.txt"
    src.write_text("   id   price  rooms\n   a1  100.5      3  \nb2      200.25   4\n")
    stats = stats_of(src, "--format", "csv")
    assert stats["price"]["max"] == 200.25 and stats["rooms"]["min"] == 3.0


def test_runs_of_spaces_keep_quoted_text(tmp_path):
    src = tmp_path / "q.txt"
    src.write_text('name   value\n"New  York"    1\n"Faro"   2\n')
    s = tmp_path / "s.json"
    assert run("fit", src, "--format", "csv", "-d", "spaces", "-m", "zscore", "-o", s, "-q").code == 0
    r = run("transform", src, "--format", "csv", "-s", s, "-q")
    assert r.code == 0, r.err
    assert r.text.splitlines()[1] == "New  York,-1.0"


def test_a_delimiter_given_as_backslash_t(tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("a\tb,c\n1\t2,5\n3\t4,5\n")
    assert stats_of(src, "-d", "\\t", "--decimal", ",")["b,c"]["mean"] == 3.5


# --- headers, names, comments, skipped rows ---------------------------------------------------


def test_a_headerless_gzip_file_gets_numbered_columns_and_transform_remembers(tmp_path):
    src = tmp_path / "readings.csv.gz"
    src.write_bytes(gzip.compress(b"1.5,10\n2.5,20\n3.5,30\n"))
    s = tmp_path / "s.json"
    assert run("fit", src, "--no-header", "-m", "zscore", "-o", s, "-q").code == 0
    scaler = json.loads(s.read_text())
    assert scaler["input_columns"] == ["0", "1"] and scaler["dialect"] == {"header": False}
    new = tmp_path / "new.csv"
    new.write_text("2.5,20\n")
    r = run("transform", new, "-s", s, "-q")  # no --no-header: the scaler remembers
    assert r.code == 0, r.err
    assert r.text == "0,1\n0.0,0.0\n"


def test_a_header_of_numbers_is_warned_about_not_taken_in_silence(tmp_path):
    src = tmp_path / "readings.csv"
    src.write_text("1.5,10\n2.5,20\n3.5,30\n")
    r = run("fit", "readings.csv", "-m", "zscore", "-o", "s.json", cwd=tmp_path)
    assert r.code == 0, r.err
    said = " ".join(r.err.split())  # the report wraps long lines
    assert "the header of readings.csv (1.5, 10) looks like a row of data; if the file has no header" in said
    r = run("fit", src, "--no-header", "-m", "zscore", "-o", tmp_path / "s.json")
    assert r.code == 0 and "looks like a row of data" not in r.err, r.err
    years = tmp_path / "years.csv"
    years.write_text("region,2019,2020\nnorth,1.5,2.5\nsouth,3.5,4.5\n")  # a header of years over floats is a header
    r = run("stats", years)
    assert r.code == 0 and "warning" not in r.err, r.err


def test_names_name_a_headerless_file_and_replace_a_header(tmp_path):
    src = tmp_path / "n.csv"
    src.write_text("1,2\n3,4\n")
    assert set(stats_of(src, "--no-header", "--names", "x,y")) == {"x", "y"}
    assert set(stats_of(src, "--names", "p,q")) == {"p", "q"}
    assert stats_of(src, "--names", "p,q")["p"]["count"] == 1  # the header row is replaced, not read


def test_comment_lines_and_skipped_rows(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("exported by station 7\n# units: m/s\nwind,gust\n4,9\n# sensor reset\n6,11\n")
    stats = stats_of(src, "--skip-rows", "1", "--comment", "#", "--ddof", "0")
    assert moments(stats["wind"]) == {"count": 2, "nulls": 0, "mean": 5.0, "std": 1.0, "min": 4.0, "max": 6.0}


# --- missing-value tokens ---------------------------------------------------------------------


def test_question_marks_and_none_are_missing_values(tmp_path):
    src = tmp_path / "q.csv"
    src.write_text("id,age,income\nA,39,?\nB,?,5000\nC,None,7000\nD,41,N/A\n")
    stats = stats_of(src)
    assert stats["age"]["count"] == 2 and stats["age"]["nulls"] == 2
    assert stats["income"]["count"] == 2 and stats["income"]["mean"] == 6000.0
    s = tmp_path / "s.json"
    assert run("fit", src, "-m", "minmax", "-o", s, "-q").code == 0
    r = run("transform", src, "-s", s, "-q")
    assert r.text.splitlines()[1:3] == ["A,0.0,", "B,,0.0"]  # missing stays missing


def test_more_missing_value_tokens(tmp_path):
    src = tmp_path / "m.csv"
    src.write_text("x\n1\n-999\n3\n")
    assert stats_of(src)["x"]["min"] == -999.0
    assert moments(stats_of(src, "--na-values", "-999,n.a.", "--ddof", "0")["x"]) == {
        "count": 2,
        "nulls": 1,
        "mean": 2.0,
        "std": 1.0,
        "min": 1.0,
        "max": 3.0,
    }


# --- encodings ------------------------------------------------------------------------------------


def test_latin1_names_with_encoding(tmp_path):
    src = tmp_path / "l1.csv"
    src.write_bytes("Preço;Área\n1,5;20\n2,5;40\n".encode("latin-1"))
    r = run("stats", src)
    assert_clean_error(r, 1, "l1.csv", "UTF-8", "--encoding")
    s = tmp_path / "s.json"
    assert run("fit", src, "--encoding", "latin-1", "-m", "zscore", "-o", s, "-q").code == 0
    assert json.loads(s.read_text())["input_columns"] == ["Preço", "Área"]
    r = run("transform", src, "-s", s, "-q")  # the scaler remembers the encoding; the output is UTF-8
    assert r.code == 0, r.err
    assert r.out.decode("utf-8").splitlines() == ["Preço,Área", "-1.0,-1.0", "1.0,1.0"]


def test_cp1252_euro_sign(tmp_path):
    src = tmp_path / "eur.csv"
    src.write_bytes("item,price €\nbread,2\nwine,7\n".encode("cp1252"))
    assert stats_of(src, "--encoding", "cp1252")["price €"]["max"] == 7.0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_a_bom_is_sniffed(tmp_path, encoding):
    src = tmp_path / "u.csv"
    text = "größe,wert\n1,2\n3,4\n"
    src.write_bytes((b"\xfe\xff" + text.encode("utf-16-be")) if encoding == "utf-16-be" else text.encode("utf-16"))
    assert stats_of(src)["größe"]["mean"] == 2.0


def test_a_utf8_bom_is_dropped(tmp_path):
    src = tmp_path / "bom.csv"
    src.write_bytes(b"\xef\xbb\xbf# note\nx,y\n1,2\n")
    assert set(stats_of(src, "--comment", "#")) == {"x", "y"}


# --- compression ------------------------------------------------------------------------------------

COMPRESS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda b: _zstd(b),
}


def _zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


def _decompress(path: Path) -> bytes:
    codec = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}.get(path.suffix)
    if codec is None:
        return lzma.decompress(path.read_bytes())
    with pa.CompressedInputStream(pa.OSFile(str(path)), codec) as f:
        return f.read()


CSV = b"id,price,rooms\nH1,100000,3\nH2,250000,4\nH3,175000,2\n"


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_compressed_input_by_name_and_by_magic_on_stdin_and_compressed_output(tmp_path, ext):
    src = tmp_path / f"data.csv.{ext}"
    src.write_bytes(COMPRESS[ext](CSV))
    s = tmp_path / "s.json"
    assert run("fit", src, "-m", "zscore", "-o", s, "-q").code == 0
    assert fitted(json.loads(s.read_text()))["price"][0] == pytest.approx(PRICE, rel=1e-15)
    assert stats_of("-", stdin=src.read_bytes())["rooms"]["mean"] == 3.0  # stdin: by its magic bytes
    out = tmp_path / f"scaled.csv.{ext}"
    assert run("transform", src, "-s", s, "-o", out, "-q").code == 0
    assert _decompress(out).splitlines()[0] == b"id,price,rooms"
    r = run("inverse", out, "-s", s, "-q")
    assert r.code == 0, r.err
    assert r.out == CSV  # integers come back as integers: the very bytes


def test_gzip_output_is_the_same_bytes_every_time(tmp_path):
    src = tmp_path / "h.csv"
    src.write_bytes(CSV)
    s = tmp_path / "s.json"
    assert run("fit", src, "-m", "zscore", "-o", s, "-q").code == 0
    outs = [tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"]
    for out in outs:
        assert run("transform", src, "-s", s, "-o", out, "-q").code == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()  # no time stamp in the gzip header
    assert gzip.decompress(outs[0].read_bytes()).startswith(b"id,price,rooms\n")


def test_a_compressed_tsv_is_tsv(tmp_path):
    src = tmp_path / "t.tsv.gz"
    src.write_bytes(gzip.compress(b"a\tb\n1\t2\n"))
    assert stats_of(src)["b"]["max"] == 2.0


def test_a_big_gzip_stream_across_many_blocks(tmp_path):
    rows = 300_000  # ~4 MB of text: more than the sniffed head and than one parsed block
    body = "".join(f"{i},{i % 7}\n" for i in range(rows))
    src = tmp_path / "big.csv.gz"
    src.write_bytes(gzip.compress(("n,k\n" + body).encode(), compresslevel=1))
    stats = stats_of(src)
    assert stats["n"]["count"] == rows and stats["n"]["max"] == rows - 1
    assert stats["k"]["mean"] == pytest.approx(np.mean(np.arange(rows) % 7), rel=1e-12)


def _big_variant(kind: str, rows: int) -> tuple[str, bytes, tuple[str, ...]]:
    """A file of `rows` rows (several parse blocks) that passes through one Python stream:
    file name, bytes and the options it needs."""
    sep = "   " if kind == "spaces" else ","
    lines = [f"n{sep}k{sep}label"]
    for i in range(rows):
        lines.append(f'{i}{sep}{i % 7}{sep}"é  {i}, ok"')
        if kind == "comment" and i % 1000 == 0:
            lines.append("# checkpoint")
    text = "\n".join(lines) + "\n"
    if kind == "latin-1":
        return "big.csv", text.encode("latin-1"), ("--encoding", "latin-1")
    if kind == "xz":
        return "big.csv.xz", lzma.compress(text.encode(), preset=0), ()
    if kind == "stdin-gzip":
        return "-", gzip.compress(text.encode(), compresslevel=1), ()
    return "big.txt", text.encode(), ("--format", "csv", "--comment", "#") if kind == "comment" else ("--format", "csv")


@pytest.mark.parametrize("kind", ["latin-1", "comment", "spaces", "xz", "stdin-gzip"])
def test_python_streams_across_many_parse_blocks(tmp_path, kind):
    rows = 200_000  # ~4.5 MB: more than the sniffed head and than two parse blocks
    name, data, options = _big_variant(kind, rows)
    if name != "-":
        (tmp_path / name).write_bytes(data)
    stats = stats_of(name if name == "-" else tmp_path / name, *options, stdin=data if name == "-" else None)
    assert stats["n"]["count"] == rows and stats["n"]["max"] == rows - 1
    assert stats["k"]["mean"] == pytest.approx(np.mean(np.arange(rows) % 7), rel=1e-12)


# --- integer columns survive the round trip ---------------------------------------------------------


def test_integer_columns_round_trip_to_the_same_bytes(tmp_path):
    original = tmp_path / "original.csv"
    rng = np.random.default_rng(7)
    lines = ["id,count,stamp,ratio"] + [
        f"r{i},{rng.integers(-5000, 5000)},{1_700_000_000 + rng.integers(0, 10**7)},{rng.random():.4f}"
        for i in range(2000)
    ]
    original.write_text("\n".join(lines) + "\n")
    s, scaled, restored = tmp_path / "s.json", tmp_path / "scaled.csv", tmp_path / "restored.csv"
    assert run("fit", original, "-m", "zscore", "-m", "stamp=minmax", "-o", s, "-q").code == 0
    dtypes = {c["name"]: c["dtype"] for c in json.loads(s.read_text())["columns"]}
    assert dtypes == {"count": "int64", "stamp": "int64", "ratio": "float64"}
    # floats come back within 1e-12, not as the same text: leave the float column unscaled
    assert run("fit", original, "-m", "zscore", "-m", "stamp=minmax", "--exclude", "ratio", "-o", s, "-q").code == 0
    assert run("transform", original, "-s", s, "-o", scaled, "-q").code == 0
    r = run("inverse", scaled, "-s", s, "-o", restored)
    assert r.code == 0, r.err
    assert "warning" not in r.err
    assert restored.read_bytes() == original.read_bytes()  # `diff original.csv restored.csv` is clean


def test_integers_restored_into_parquet_as_int64(tmp_path):
    src = tmp_path / "h.csv"
    src.write_bytes(CSV)
    s, scaled, restored = tmp_path / "s.json", tmp_path / "scaled.parquet", tmp_path / "restored.parquet"
    assert run("fit", src, "-m", "minmax", "-o", s, "-q").code == 0
    assert run("transform", src, "-s", s, "-o", scaled, "-q").code == 0
    assert run("inverse", scaled, "-s", s, "-o", restored, "-q").code == 0
    table = pq.read_table(restored)
    assert table.schema.field("price").type == pa.int64()
    assert table.column("price").to_pylist() == [100000, 250000, 175000]
    assert run("inverse", scaled, "-s", s, "-o", restored, "--dtype", "float64", "-q").code == 0
    assert pq.read_table(restored).schema.field("price").type == pa.float64()  # asked for floats


def test_integers_that_do_not_round_back_are_floats_and_said_so(tmp_path):
    src = tmp_path / "h.csv"
    src.write_bytes(CSV)
    s, scaled = tmp_path / "s.json", tmp_path / "scaled.csv"
    assert run("fit", src, "-m", "zscore", "-o", s, "-q").code == 0
    assert run("transform", src, "-s", s, "-o", scaled, "--precision", "2", "-q").code == 0
    r = run("inverse", scaled, "-s", s)
    assert r.code == 0, r.err
    assert "column 'price' held integers, but 2 value(s) are not within" in " ".join(r.err.split())
    assert rows_of(r.text)[1][1] != "100000" and "." in rows_of(r.text)[1][1]


def test_a_column_of_integers_in_the_head_with_a_fraction_later_is_recorded_as_float(tmp_path):
    src = tmp_path / "late.csv"
    src.write_text("x\n" + "1\n" * 200_000 + "2.5\n")  # the fraction lies beyond the sniffed MiB
    assert fit_json(src)["columns"][0]["dtype"] == "float64"


# --- columns empty in the sniffed head --------------------------------------------------------------


def test_a_column_empty_in_the_head_is_reported_as_skipped(tmp_path):
    src = tmp_path / "late.csv"
    src.write_text("a,late\n" + "1,\n" * 400_000 + "2,7\n")  # 1.2 MB: the value lies past the sniffed MiB
    stats_json = tmp_path / "stats.json"
    r = run("fit", src, "-m", "zscore", "-o", tmp_path / "s.json", "--stats-json", stats_json)
    assert r.code == 0, r.err
    assert "column 'late' is empty in the first MiB, so it was not scaled" in " ".join(r.err.split())
    assert json.loads(stats_json.read_text())["skipped"] == [{"column": "late", "reason": "empty in the first MiB"}]
    named = fit_json(src, "--columns", "a,late")
    assert fitted(named)["late"] == (7.0, 0.0)


def test_fit_apply_warns_of_a_column_empty_in_the_head_as_fit_does(tmp_path):
    """fit --apply leaves that column as it is in the data it writes, and says so as fit does."""
    src = tmp_path / "late.csv"
    src.write_text("a,late\n" + "1,\n" * 400_000 + "2,7\n")
    out = tmp_path / "out.csv"
    r = run("fit", src, "-m", "zscore", "--apply", "-o", out)
    assert r.code == 0, r.err
    assert "column 'late' is empty in the first MiB, so it was not scaled" in " ".join(r.err.split())
    assert out.read_text().splitlines()[-1].endswith(",7")


# --- output formats and terminals -----------------------------------------------------------------------


def test_an_output_without_a_known_extension_takes_the_input_format(tmp_path):
    src = tmp_path / "h.parquet"
    pq.write_table(pacsv.read_csv(io.BytesIO(CSV)), src)
    s = tmp_path / "s.json"
    assert run("fit", src, "-m", "minmax", "-o", s, "-q").code == 0
    out = tmp_path / "out.txt"
    assert run("transform", src, "-s", s, "-o", out, "-q").code == 0
    assert out.read_bytes()[:4] == b"PAR1"
    assert run("transform", src, "-s", s, "-o", os.devnull, "-q").code == 0
    assert run("transform", src, "-s", s, "-o", out, "--output-format", "csv", "-q").code == 0
    assert out.read_text().startswith("id,price,rooms\n")


def run_on_terminal(*args: str, cwd: Path) -> tuple[int, bytes, str]:
    """Run normcli with stdout on a pseudo-terminal; return the code, what reached the
    terminal and stderr."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [str(NORMCLI), *args], stdout=follower, stderr=subprocess.PIPE, cwd=cwd, timeout=60, check=False
        )
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal is closed and drained
                break
            if not chunk:
                break
            seen += chunk
        return proc.returncode, seen, proc.stderr.decode()
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)


def test_binary_output_is_refused_on_a_terminal(tmp_path):
    (tmp_path / "h.csv").write_bytes(CSV)
    np.save(tmp_path / "acts.npy", np.ones((1, 4, 2, 2), dtype=np.float32))
    assert run("fit", "h.csv", "-m", "minmax", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    code, seen, err = run_on_terminal("transform", "h.csv", "-s", "s.json", "--output-format", "parquet", cwd=tmp_path)
    assert (code, seen) == (2, b"")
    assert err == "error: refusing to write binary Parquet to a terminal; use -o FILE or redirect\n"
    code, seen, err = run_on_terminal("lrn", "acts.npy", "--size", "3", cwd=tmp_path)
    assert (code, seen) == (2, b"")
    assert err == "error: refusing to write binary .npy to a terminal; use -o FILE or redirect\n"
    code, seen, err = run_on_terminal("transform", "h.csv", "-s", "s.json", "-q", cwd=tmp_path)
    assert code == 0, err
    assert seen.replace(b"\r\n", b"\n").startswith(b"id,price,rooms\n")  # text is fine on a terminal


# --- the invariant: a dialect changes how the numbers are written, never the numbers ------------------

values = st.lists(
    st.tuples(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3))),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=values,
    delimiter=st.sampled_from([",", ";", "\t", "|", "spaces"]),
    header=st.booleans(),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
    codec=st.sampled_from(["", "gz", "bz2", "xz", "zst"]),
)
def test_any_dialect_gives_the_statistics_of_the_plain_file(tmp_path, rows, delimiter, header, encoding, codec):
    sep = "   " if delimiter == "spaces" else delimiter
    decimal = "," if delimiter in (";", "\t") else "."

    def number(v: float) -> str:
        return repr(v).replace(".", decimal)

    lines = ([f"n{sep}größe"] if header else []) + [f"{a}{sep}{number(b)}" for a, b in rows]
    data = ("\n".join(lines) + "\n").encode(encoding)
    path = tmp_path / (f"d.csv.{codec}" if codec else "d.csv")
    path.write_bytes(COMPRESS[codec](data) if codec else data)
    options = DialectOptions(  # the delimiter and a UTF-16 BOM are sniffed; a decimal comma may be ambiguous
        header=None if header else False,
        encoding=None if encoding in ("utf-8", "utf-16") else encoding,
        decimal="," if decimal == "," else None,
    )
    with open_reader(str(path), dialect=options) as reader:
        names = reader.names
        stats = stats_stream(reader, names)
    assert names == (["n", "größe"] if header else ["0", "1"])
    a, b = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    for name, col in zip(names, (a, b), strict=True):
        assert stats[name].count == len(rows)
        assert stats[name].mean == pytest.approx(col.mean(), rel=1e-12, abs=1e-9)
        assert (stats[name].min, stats[name].max) == (col.min(), col.max())
