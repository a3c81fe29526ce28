"""End to end: the installed `normcli` on real files and pipes, as a user runs it."""

import json
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import NORMCLI, SAMPLE, assert_clean_error, run
from inprocess import invoke

HOUSES = SAMPLE / "houses.csv"
NUMERIC = ["price", "area_sqm", "rooms", "listed_at", "temperature_c", "distance_km"]


def read_table(path):
    return pq.read_table(path) if str(path).endswith(".parquet") else pacsv.read_csv(path)


def column(table, name):
    return table.column(name).to_numpy(zero_copy_only=False).astype(float)


@pytest.fixture
def scaler(tmp_path):
    path = tmp_path / "scaler.json"
    r = run("fit", HOUSES, "-m", "zscore", "-o", path, "-q")
    assert r.code == 0, r.err
    return path


def test_fit_transform_inverse_round_trip_through_parquet(tmp_path, scaler):
    scaled, restored = tmp_path / "scaled.parquet", tmp_path / "restored.csv"
    r = run("transform", HOUSES, "-s", scaler, "-o", scaled)
    assert r.code == 0 and r.out == b"", r.err
    assert "before" in r.err and "after" in r.err and "price" in r.err
    t = read_table(scaled)
    original = read_table(HOUSES)
    assert t.column_names == original.column_names
    assert t.column("id").to_pylist() == original.column("id").to_pylist()
    for name in NUMERIC:
        y = column(t, name)
        assert abs(np.nanmean(y)) < 1e-12 and abs(np.nanstd(y) - 1) < 1e-12, name
    r = run("inverse", scaled, "-s", scaler, "-o", restored, "-q")
    assert r.code == 0 and r.err == "", r.err
    back = read_table(restored)
    assert back.column("city").to_pylist() == original.column("city").to_pylist()
    for name in NUMERIC:
        np.testing.assert_allclose(column(back, name), column(original, name), rtol=1e-12)


def test_fit_without_output_prints_the_scaler_json_on_stdout_and_the_table_on_stderr():
    r = run("fit", HOUSES, "-m", "minmax", "--columns", "price,rooms")
    assert r.code == 0
    data = json.loads(r.out)
    assert [c["name"] for c in data["columns"]] == ["price", "rooms"]
    assert "minmax" in r.err and "before" in r.err


def test_per_column_methods_and_their_options(tmp_path):
    out = tmp_path / "s.json"
    r = run(
        "fit", HOUSES, "-m", "zscore", "-m", "price=log", "--log-normalize", "--exclude", "listed_at", "-o", out, "-q"
    )
    assert r.code == 0, r.err
    cols = {c["name"]: c for c in json.loads(out.read_text())["columns"]}
    assert "listed_at" not in cols and cols["price"]["method"] == "log" and cols["rooms"]["method"] == "zscore"
    assert cols["price"]["options"]["normalize"] is True


def test_stdin_to_stdout_pipeline_with_head(scaler):
    cmd = f"cat {HOUSES} | {NORMCLI} transform - -s {scaler} -q | head -2; echo ${{PIPESTATUS[1]}}"
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    lines = p.stdout.splitlines()
    assert lines[0].startswith("id,city,price") and lines[1].startswith("H0000,Porto,")
    assert lines[2] == "0" and p.stderr == ""


def test_head_closing_the_pipe_early_exits_quietly(tmp_path, scaler):
    big = tmp_path / "big.csv"
    text = HOUSES.read_text()
    header, body = text.split("\n", 1)
    big.write_text(header + "\n" + body * 400)  # ~10 MB, more than a pipe buffer and a batch
    cmd = f"{NORMCLI} transform {big} -s {scaler} | head -1; echo ${{PIPESTATUS[0]}}"
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert p.stdout.splitlines() == [header.replace('"', ""), "0"]  # written quoted only where needed
    assert p.stderr == "", p.stderr


def test_output_format_follows_the_extension_then_the_option(tmp_path, scaler):
    assert run("transform", HOUSES, "-s", scaler, "-o", tmp_path / "a.tsv", "-q").code == 0
    assert (tmp_path / "a.tsv").read_text().splitlines()[0].split("\t")[0] == "id"
    r = run("transform", HOUSES, "-s", scaler, "--output-format", "parquet", "-q")
    assert r.code == 0 and r.out[:4] == b"PAR1"
    r = run("transform", SAMPLE / "houses.parquet", "-s", scaler, "-q")
    assert r.out[:4] == b"PAR1"  # stdout keeps the input's format


def test_tsv_and_parquet_input_fit_the_same_scaler(tmp_path):
    tsv = tmp_path / "h.tsv"
    pacsv.write_csv(read_table(HOUSES), tsv, pacsv.WriteOptions(delimiter="\t"))
    fits = [json.loads(run("fit", p, "-m", "zscore", "-q").out) for p in (HOUSES, tsv, SAMPLE / "houses.parquet")]
    # the recorded input types differ (houses.parquet stores price as double): compare the rest
    dtypes = [{c["name"]: c.pop("dtype") for c in fit["columns"]} for fit in fits]
    assert fits[0]["columns"] == fits[1]["columns"] == fits[2]["columns"]
    assert dtypes[0] == dtypes[1] and dtypes[0]["rooms"] == "int64" and dtypes[2]["price"] == "float64"


def test_npy_2d_and_nd_with_axis(tmp_path):
    x = np.random.default_rng(0).normal(3, 2, (50, 4))
    np.save(tmp_path / "x.npy", x)
    assert run("fit", tmp_path / "x.npy", "-m", "minmax", "-o", tmp_path / "s.json", "-q").code == 0
    assert run("transform", tmp_path / "x.npy", "-s", tmp_path / "s.json", "-o", tmp_path / "y.npy", "-q").code == 0
    y = np.load(tmp_path / "y.npy")
    np.testing.assert_allclose(y, (x - x.min(0)) / (x.max(0) - x.min(0)), rtol=1e-12)
    assert run("transform", tmp_path / "x.npy", "-s", tmp_path / "s.json", "-o", tmp_path / "y.csv", "-q").code == 0
    assert read_table(tmp_path / "y.csv").column_names == ["0", "1", "2", "3"]

    acts = SAMPLE / "activations.npy"
    r = run("fit", acts, "-m", "zscore", "--axis", "1", "-o", tmp_path / "bn.json", "-q")
    assert r.code == 0, r.err
    r = run("transform", acts, "-s", tmp_path / "bn.json", "-o", tmp_path / "bn.npy", "--dtype", "float32", "-q")
    assert r.code == 0, r.err
    a, b = np.load(acts).astype(float), np.load(tmp_path / "bn.npy")
    assert b.shape == a.shape and b.dtype == np.float32
    expected = (a - a.mean((0, 2, 3), keepdims=True)) / a.std((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(b, expected, rtol=1e-5, atol=1e-5)
    r = run("inverse", tmp_path / "bn.npy", "-s", tmp_path / "bn.json", "-o", tmp_path / "back.npy", "-q")
    assert r.code == 0, r.err
    np.testing.assert_allclose(np.load(tmp_path / "back.npy"), a, rtol=1e-5, atol=1e-4)


def test_npy_through_stdin_and_stdout(tmp_path):
    x = np.arange(12.0).reshape(6, 2)
    np.save(tmp_path / "x.npy", x)
    run("fit", tmp_path / "x.npy", "-m", "minmax", "-o", tmp_path / "s.json", "-q")
    r = run(
        "transform", "-", "-s", tmp_path / "s.json", "--format", "npy", "-q", stdin=(tmp_path / "x.npy").read_bytes()
    )
    assert r.code == 0, r.err
    (tmp_path / "y.npy").write_bytes(r.out)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), (x - x.min(0)) / 10)


def test_csv_to_npy_writes_the_final_shape(tmp_path, write_csv):
    src = write_csv("a,b\n1,2\n3,4\n5,6\n")
    run("fit", src, "-m", "minmax", "-o", tmp_path / "s.json", "-q")
    assert run("transform", src, "-s", tmp_path / "s.json", "-o", tmp_path / "o.npy", "-q").code == 0
    assert np.load(tmp_path / "o.npy").tolist() == [[0, 0], [0.5, 0.5], [1, 1]]


def test_stats_prints_a_table_or_json_on_stdout():
    r = run("stats", HOUSES)
    assert r.code == 0 and r.err == ""
    for name in NUMERIC:
        assert name in r.text
    r = run("stats", HOUSES, "--json", "--columns", "rooms,area_sqm")
    data = json.loads(r.out)
    assert list(data) == ["rooms", "area_sqm"]
    assert data["area_sqm"]["nulls"] == 7 and data["rooms"]["count"] == 500


def test_methods_lists_formulas():
    r = run("methods")
    assert r.code == 0
    for text in ("minmax", "zscore", "log", "atan(x) * 2 / pi", "1 / (1 + x)", "tan(y * pi / 2)"):
        assert text in r.text


def test_quiet_and_stats_json(tmp_path, scaler):
    stats = tmp_path / "stats.json"
    r = run("transform", HOUSES, "-s", scaler, "-o", tmp_path / "o.csv", "-q", "--stats-json", stats)
    assert r.code == 0 and r.err == "" and r.out == b""
    data = json.loads(stats.read_text())
    assert data["command"] == "transform" and data["rows"] == 500
    assert data["columns"]["price"]["before"]["mean"] == pytest.approx(485506.2)
    assert data["columns"]["price"]["after"]["std"] == pytest.approx(1.0)


def test_version_and_python_m():
    from normcli import __version__

    assert run("--version").text.strip() == f"normcli {__version__}"
    import sys

    p = subprocess.run([sys.executable, "-m", "normcli", "--version"], capture_output=True, text=True)
    assert p.stdout.strip() == f"normcli {__version__}"


def test_text_passes_through_unchanged_and_in_place(tmp_path, write_csv):
    src = write_csv('name,x,when\n"a, b",1,2024-01-02 03:04\n"q""r",2,\n')
    run("fit", src, "-m", "minmax", "-o", tmp_path / "s.json", "-q")
    r = run("transform", src, "-s", tmp_path / "s.json", "-q")
    as_text = pacsv.ConvertOptions(column_types={"name": pa.string(), "when": pa.string()}, strings_can_be_null=False)
    t = pacsv.read_csv(pa.py_buffer(r.out), convert_options=as_text)
    assert t.column_names == ["name", "x", "when"]
    assert t.column("name").to_pylist() == ["a, b", 'q"r']
    assert t.column("when").to_pylist() == ["2024-01-02 03:04", ""]
    assert t.column("x").to_pylist() == [0.0, 1.0]


# --- errors (the full catalogue lives in test_errors.py) ---------------------------------------


def test_user_mistakes_are_one_line_errors_with_the_right_exit_code(tmp_path, scaler, write_csv):
    assert_clean_error(invoke("fit", tmp_path / "nope.csv", "-m", "zscore"), 1, "nope.csv", "no such file")
    assert_clean_error(invoke("fit", HOUSES, "-m", "rank"), 2, "unknown method 'rank'")
    assert_clean_error(invoke("fit", HOUSES, "-m", "zscore", "--range", "0", "1"), 2, "--range is an option of minmax")
    assert_clean_error(invoke("fit", HOUSES), 2, "Missing option '-m'")
    assert_clean_error(invoke("fit", HOUSES, "-m", "log", "--columns", "temperature_c"), 1, "temperature_c", "<= 0")
    missing = write_csv("price,rooms\n1,2\n")
    assert_clean_error(invoke("transform", missing, "-s", scaler), 1, "area_sqm")
    text = write_csv("price,area_sqm,rooms,listed_at,temperature_c,distance_km\n1,2,3,4,5,abc\n", "t.csv")
    assert_clean_error(invoke("transform", text, "-s", scaler), 1, "distance_km", "abc")
    assert_clean_error(invoke("transform", HOUSES, "-s", scaler, "-o", tmp_path / "no" / "o.csv"), 2, "does not exist")


def test_failed_command_leaves_no_file_and_keeps_the_old_one(tmp_path, scaler, write_csv):
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    header = "id,city,price,area_sqm,rooms,listed_at,temperature_c,distance_km\n"
    good = "H1,Porto,1,2,3,4,5,6\n" * 200_000  # several batches are written before the bad row
    bad = write_csv(header + good + "H2,Faro,1,2,3,4,5,oops\n")
    r = run("transform", bad, "-s", scaler, "-o", out)
    assert_clean_error(r, 1, "oops")
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "out.csv", "scaler.json"]


def test_output_onto_the_input_is_refused(tmp_path, scaler):
    copy = tmp_path / "h.csv"
    copy.write_bytes(HOUSES.read_bytes())
    assert_clean_error(run("transform", copy, "-s", scaler, "-o", copy), 2, "is an input file")
    assert copy.read_bytes() == HOUSES.read_bytes()


def test_precision_shortens_text_output_but_not_the_statistics(tmp_path, scaler):
    r = run("transform", HOUSES, "-s", scaler, "--precision", "3", "--stats-json", tmp_path / "s.json", "-q")
    assert r.code == 0, r.err
    first = r.text.splitlines()[1].split(",")
    assert first[:2] == ["H0000", "Porto"]
    assert all(len(v.lstrip("-").replace(".", "").lstrip("0")) <= 3 for v in first[2:] if "e" not in v)
    full = run("transform", HOUSES, "-s", scaler, "-q").text.splitlines()[1].split(",")
    np.testing.assert_allclose(np.array(first[2:], float), np.array(full[2:], float), rtol=5e-3)
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["columns"]["price"]["after"]["std"] == pytest.approx(1.0, rel=1e-12)
    assert_clean_error(run("transform", HOUSES, "-s", scaler, "--precision", "0"), 2, "--precision")


def test_1d_npy_and_features_on_axis_0(tmp_path):
    x = np.random.default_rng(0).normal(5, 2, 1000)
    np.save(tmp_path / "v.npy", x)
    assert run("fit", tmp_path / "v.npy", "-m", "minmax", "-o", tmp_path / "v.json", "-q").code == 0
    r = run("transform", tmp_path / "v.npy", "-s", tmp_path / "v.json", "-o", tmp_path / "vo.npy", "-q")
    assert r.code == 0, r.err
    np.testing.assert_allclose(np.load(tmp_path / "vo.npy"), (x - x.min()) / (x.max() - x.min()), rtol=1e-12)
    a = np.random.default_rng(1).normal(3, 1, (4, 7, 5))
    np.save(tmp_path / "a.npy", a)
    assert run("fit", tmp_path / "a.npy", "-m", "zscore", "--axis", "0", "-o", tmp_path / "a.json", "-q").code == 0
    r = run("transform", tmp_path / "a.npy", "-s", tmp_path / "a.json", "-o", tmp_path / "ao.npy", "-q")
    assert r.code == 0, r.err
    expected = (a - a.mean((1, 2), keepdims=True)) / a.std((1, 2), keepdims=True)
    np.testing.assert_allclose(np.load(tmp_path / "ao.npy"), expected, rtol=1e-12, atol=1e-12)


# --- found by a QA pass: each of these once lost or changed data without a word ----------------


def test_numeric_columns_that_are_not_scaled_pass_through_as_written(tmp_path, write_csv):
    src = write_csv("a,c,d\n1,1.10,007\n2,1e5,0010\n3,-0.0,12345678901234567890\n")
    run("fit", src, "-m", "zscore", "--columns", "a", "-o", tmp_path / "s.json", "-q")
    r = run("transform", src, "-s", tmp_path / "s.json", "-q")
    assert r.code == 0, r.err
    rows = [line.split(",")[1:] for line in r.text.splitlines()]
    assert rows == [["c", "d"], ["1.10", "007"], ["1e5", "0010"], ["-0.0", "12345678901234567890"]]


def test_a_passthrough_column_may_change_type_after_the_head(tmp_path):
    text = "a,c\n" + "".join(f"{i},{i}\n" for i in range(100_000)) + "5,2.5\n6,n/a\n"
    (tmp_path / "big.csv").write_text(text)
    (tmp_path / "small.csv").write_text(text[:40])
    run("fit", tmp_path / "small.csv", "-m", "zscore", "--columns", "a", "-o", tmp_path / "s.json", "-q")
    r = run("transform", tmp_path / "big.csv", "-s", tmp_path / "s.json", "-o", tmp_path / "out.csv", "-q")
    assert r.code == 0, r.err
    last = (tmp_path / "out.csv").read_text().splitlines()[-2:]
    assert last[0].endswith(",2.5") and last[1].endswith(",n/a"), last


def test_unselected_columns_are_not_parsed_by_fit_or_stats(tmp_path):
    text = "a,c\n" + "".join(f"{i},{i}\n" for i in range(100_000)) + "6,hello\n"
    (tmp_path / "t.csv").write_text(text)
    r = run("fit", tmp_path / "t.csv", "-m", "zscore", "--columns", "a", "-q")
    assert r.code == 0, r.err
    assert [c["name"] for c in json.loads(r.out)["columns"]] == ["a"]
    r = run("stats", tmp_path / "t.csv", "--columns", "a", "--json")
    assert r.code == 0 and json.loads(r.out)["a"]["count"] == 100_001, r.err


def test_a_column_empty_in_the_head_can_be_named_and_fitted(tmp_path):
    text = "a,c\n" + "".join(f"{i},\n" for i in range(150_000)) + "".join(f"{i},{i * 1.5}\n" for i in range(10))
    (tmp_path / "e.csv").write_text(text)
    r = run("fit", tmp_path / "e.csv", "-m", "zscore", "--columns", "c", "-q")
    assert r.code == 0, r.err
    stats = json.loads(r.out)["columns"][0]["stats"]
    assert (stats["count"], stats["nulls"], stats["max"]) == (10, 150_000, 13.5)


def test_a_first_row_longer_than_the_sniffed_head(tmp_path):
    (tmp_path / "l.csv").write_text("a,note\n1," + "x" * 1_500_000 + "\n2,s\n")
    r = run("stats", tmp_path / "l.csv", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["a"]["count"] == 2


def test_quoted_values_spanning_lines_beyond_the_head(tmp_path):
    text = "a,note,b\n" + "".join(f'{i},"line one\nline two {i}",{i}\n' for i in range(100_000))
    (tmp_path / "m.csv").write_text(text)
    assert run("fit", tmp_path / "m.csv", "-m", "minmax", "-o", tmp_path / "s.json", "-q").code == 0
    r = run("transform", tmp_path / "m.csv", "-s", tmp_path / "s.json", "-o", tmp_path / "t.csv", "-q")
    assert r.code == 0, r.err
    multiline = pacsv.ParseOptions(newlines_in_values=True)
    before = pacsv.read_csv(tmp_path / "m.csv", parse_options=multiline)
    after = pacsv.read_csv(tmp_path / "t.csv", parse_options=multiline)
    assert after.num_rows == 100_000 and after.column("note").equals(before.column("note"))


def test_a_one_column_csv_keeps_its_null_rows(tmp_path, write_csv):
    src = write_csv("a\n1\nNaN\n3\n")
    run("fit", src, "-m", "minmax", "-o", tmp_path / "s.json", "-q")
    assert run("transform", src, "-s", tmp_path / "s.json", "-o", tmp_path / "t.csv", "-q").code == 0
    r = run("inverse", tmp_path / "t.csv", "-s", tmp_path / "s.json", "-q")
    assert r.code == 0, r.err
    assert pacsv.read_csv(pa.py_buffer(r.out)).column("a").to_pylist() == [1.0, None, 3.0]


def test_an_empty_column_name_survives_a_round_trip(tmp_path, write_csv):
    src = write_csv(",b\n1,2\n3,4\n")
    run("fit", src, "-m", "zscore", "-o", tmp_path / "s.json", "-q")
    assert run("transform", src, "-s", tmp_path / "s.json", "-o", tmp_path / "t.csv", "-q").code == 0
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == ",b"
    r = run("inverse", tmp_path / "t.csv", "-s", tmp_path / "s.json", "-q")
    assert r.code == 0, r.err
    assert r.text.splitlines() == [",b", "1,2", "3,4"]  # integer columns come back as integers


def test_output_through_a_symlink_replaces_its_target_not_the_link(tmp_path, write_csv, scaler):
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "alias.csv").symlink_to("real.csv")
    r = run("transform", HOUSES, "-s", scaler, "-o", tmp_path / "alias.csv", "-q")
    assert r.code == 0, r.err
    assert (tmp_path / "alias.csv").is_symlink()
    assert (tmp_path / "real.csv").read_text().startswith("id,city,price")


def test_output_through_a_link_to_our_own_stdout_writes_to_stdout(tmp_path, write_csv):
    # what `-o /dev/stdout` does, without touching the machine's /dev/stdout if this regresses
    (tmp_path / "mystdout").symlink_to("/proc/self/fd/1")
    src = write_csv("a\n1\n2\n")
    with open(tmp_path / "captured.json", "wb") as sink:
        p = subprocess.run(
            [str(NORMCLI), "fit", str(src), "-m", "zscore", "-q", "-o", str(tmp_path / "mystdout")], stdout=sink
        )
    assert p.returncode == 0
    assert (tmp_path / "mystdout").is_symlink()
    assert json.loads((tmp_path / "captured.json").read_text())["columns"][0]["name"] == "a"


def test_values_that_become_infinite_are_reported(tmp_path, write_csv):
    run("fit", write_csv("a\n1\n100\n", "fit.csv"), "-m", "log", "-o", tmp_path / "s.json", "-q")
    r = run("inverse", write_csv("a\n400\n2\n", "y.csv"), "-s", tmp_path / "s.json")
    assert r.code == 0, r.err
    assert "warning: column 'a': 1 finite value(s) became inf" in r.err


def test_float32_overflow_is_one_warning_of_ours_and_none_under_quiet(tmp_path, write_csv):
    run("fit", write_csv("a,b\n1,1\n2,2\n3,3\n", "fit.csv"), "-m", "minmax", "-o", tmp_path / "s.json", "-q")
    src = write_csv("a,b\n1e300,1\n2,2\n", "q.csv")
    r = run("transform", src, "-s", tmp_path / "s.json", "--dtype", "float32")
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if line.startswith("warning:")]
    assert any("beyond the range of float32" in w for w in warnings)
    assert not any("encountered" in w for w in warnings), warnings
    r = run("transform", src, "-s", tmp_path / "s.json", "--dtype", "float32", "-q")
    assert r.code == 0 and r.err == "", r.err


def test_bare_normcli_prints_the_help(tmp_path):
    r = run()
    assert r.code == 2
    assert r.err.startswith("Usage: normcli") and "Commands:" in r.err and "error:" not in r.err


def test_empty_cells_of_unscaled_columns_stay_empty(tmp_path, write_csv):
    src = write_csv('x,t,n\n1,a,5\n2,,\n3,"",7\n')
    run("fit", src, "-m", "minmax", "--columns", "x", "-o", tmp_path / "s.json", "-q")
    r = run("transform", src, "-s", tmp_path / "s.json", "-q")
    assert r.code == 0, r.err
    assert r.text.splitlines() == ["x,t,n", "0.0,a,5", "0.5,,", "1.0,,7"]
    r = run("transform", src, "-s", tmp_path / "s.json", "-q", "--output-format", "tsv")
    assert r.text.splitlines()[2] == "0.5\t\t"


def test_a_lone_quote_inside_an_unquoted_field_in_the_head(tmp_path):
    text = 'x,size\n1,5" screen\n' + "".join(f"{i},{i}in\n" for i in range(150_000))
    (tmp_path / "q.csv").write_text(text)
    r = run("stats", tmp_path / "q.csv", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["x"]["count"] == 150_001


def test_a_first_row_whose_quoted_value_spans_more_than_the_head(tmp_path):
    text = 'x,note\n1,"' + "abc def\n" * 200_000 + '"\n' + "".join(f"{i},short\n" for i in range(10))
    (tmp_path / "lq.csv").write_text(text)
    for args, stdin in ((("stats", tmp_path / "lq.csv", "--json"), None), (("stats", "-", "--json"), text.encode())):
        r = run(*args, stdin=stdin)
        assert r.code == 0, r.err
        assert json.loads(r.out)["x"]["count"] == 11


def test_a_header_name_with_a_carriage_return_is_quoted(tmp_path):
    pq.write_table(pa.table({"a\rb": [1.0, 2.0], "c": [1, 2]}), tmp_path / "h.parquet")
    run("fit", tmp_path / "h.parquet", "-m", "minmax", "-o", tmp_path / "s.json", "-q")
    assert run("transform", tmp_path / "h.parquet", "-s", tmp_path / "s.json", "-o", tmp_path / "h.csv", "-q").code == 0
    r = run("inverse", tmp_path / "h.csv", "-s", tmp_path / "s.json", "-q")
    assert r.code == 0, r.err
    assert pacsv.read_csv(pa.py_buffer(r.out)).column_names == ["a\rb", "c"]


def test_precision_that_rounds_past_float64_is_reported(tmp_path, write_csv):
    src = write_csv("x\n1.7e308\n1\n")
    assert run("fit", src, "-m", "zscore", "-o", tmp_path / "s.json", "-q").code == 0
    scaler = json.loads((tmp_path / "s.json").read_text())
    scaler["columns"][0]["fitted"] = {"mean": 0.0, "std": 1.0}  # identity: 1.7e308 rounds to 2e308
    (tmp_path / "id.json").write_text(json.dumps(scaler))
    r = run("transform", src, "-s", tmp_path / "id.json", "--precision", "1")
    assert r.code == 0, r.err
    assert "warning: column 'x': 1 value(s) rounded to 1 digit(s) became inf" in r.err


def test_stats_counts_a_column_named_twice_once(write_csv):
    r = run("stats", write_csv("x\n1\n2\n3\n"), "--columns", "x,x", "--json")
    assert r.code == 0 and json.loads(r.out)["x"]["count"] == 3, r.err
