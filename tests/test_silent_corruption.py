"""Issue 9, items 1-6 and 12: data altered or lost without a word. Each test runs the real
`normcli` (or the Python API) on files made here and checks the output and stderr; the
one-line refusals live in SILENT_CASES of tests/test_errors.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import normcli
from normcli.errors import DataError

from conftest import assert_clean_error, run

# --- item 2: an array scaler's feature count is part of its layout -------------------------------


@pytest.mark.parametrize("direction", ["transform", "inverse"])
def test_the_api_refuses_an_array_with_more_features_than_the_scaler(direction):
    scaler = normcli.fit(np.arange(12.0).reshape(4, 3), "minmax")
    with pytest.raises(DataError, match="3 features.*has 5"):
        getattr(scaler, direction)(np.ones((4, 5)))
    per_channel = normcli.fit(np.random.default_rng(0).random((2, 16, 2, 2)), "zscore", axis=1)
    with pytest.raises(DataError, match="16 features.*has 32"):
        getattr(per_channel, direction)(np.ones((2, 32, 2, 2)))
    assert getattr(per_channel, direction)(np.ones((2, 16, 2, 2))).shape == (2, 16, 2, 2)


def test_a_saved_array_scaler_still_applies_to_its_own_shape(tmp_path):
    x = np.random.default_rng(3).random((6, 4, 5))
    np.save(tmp_path / "x.npy", x)
    assert run("fit", "x.npy", "--axis", "1", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    r = run("transform", "x.npy", "-s", "s.json", "-o", "y.npy", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    y = np.load(tmp_path / "y.npy")
    expected = (x - x.mean(axis=(0, 2), keepdims=True)) / x.std(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


# --- items 4 and 6: what fit refuses, the loader refuses; what fit writes, the loader reads -------


@pytest.mark.filterwarnings("ignore:column 'x' is constant")
@settings(max_examples=60, deadline=None)
@given(
    lo=st.floats(-1e300, 1e300),
    width=st.floats(1e-320, 1e300),
    values=st.lists(st.floats(-1e307, 1e307), min_size=2, max_size=6),
    method=st.sampled_from(["minmax", "zscore"]),
)
def test_every_scaler_that_fit_writes_loads_back_and_maps_without_collapsing(lo, width, values, method):
    options = {"range": (lo, lo + width)} if method == "minmax" else {}
    try:
        scaler = normcli.fit({"x": np.array(values)}, method, **options)
    except (DataError, normcli.errors.UsageError):
        return  # refused at fit: nothing was written
    again = normcli.Scaler.from_core(normcli.Scaler.from_json(scaler.to_json()))
    assert [(c.fitted, c.options) for c in again.columns] == [(c.fitted, c.options) for c in scaler.columns]
    y = again.transform({"x": np.array(values)})["x"]
    assert np.isfinite(y).all()
    if method == "minmax" and max(values) > min(values):
        # nothing collapses: the extremes still map to the two ends of the range
        assert y.min() < y.max()


def test_a_hand_edited_scaler_is_refused_before_any_output_is_written(tmp_path):
    (tmp_path / "xy.csv").write_text("x,y\n1,10\n2,20\n3,30\n")
    assert run("fit", "xy.csv", "-m", "minmax", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    data = json.loads((tmp_path / "s.json").read_text())
    data["columns"][0]["fitted"] = {"min": -1.7e308, "max": 1.7e308}
    (tmp_path / "bad.json").write_text(json.dumps(data))
    r = run("transform", "xy.csv", "-s", "bad.json", cwd=tmp_path)
    assert_clean_error(r, 1, "bad.json", "'x'", "overflows")


def test_a_narrow_range_far_in_the_subnormals_is_refused_but_a_usable_one_is_exact(tmp_path):
    (tmp_path / "xy.csv").write_text("x\n1\n2\n3\n")
    r = run("fit", "xy.csv", "-m", "minmax", "--range", "0", "1e-320", cwd=tmp_path)
    assert_clean_error(r, 2, "--range", "1e-320")
    r = run("fit", "xy.csv", "-m", "minmax", "--range", "0", "1e-300", "-o", "s.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("transform", "xy.csv", "-s", "s.json", "-q", cwd=tmp_path)
    assert [float(v) for v in r.text.split()[1:]] == [0.0, 5e-301, 1e-300]


# --- item 1: columns that are not scaled keep their values in every output format ----------------

XY_SCALER = {"x": np.array([1.0, 3.0]), "y": np.array([10.0, 30.0])}
IDS = "id,x,y\n12345678901234567891,1,10\n12345678901234567892,2,20\n00123,3,30\n"


def xy_scaler(folder) -> None:
    normcli.fit(XY_SCALER, "minmax").save(folder / "xy.json")


def read_parquet(path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def test_ids_that_overflow_int64_or_have_leading_zeros_stay_text_in_parquet(tmp_path):
    """The issue's example: two 20-digit ids collided as doubles and 00123 became 123.0."""
    xy_scaler(tmp_path)
    (tmp_path / "a.csv").write_text(IDS)
    r = run("transform", "a.csv", "-s", "xy.json", "-o", "a.parquet", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    rows = read_parquet(tmp_path / "a.parquet")
    assert [row["id"] for row in rows] == ["12345678901234567891", "12345678901234567892", "00123"]
    assert [row["x"] for row in rows] == [0.0, 0.5, 1.0]


def test_each_unscaled_column_gets_the_type_that_keeps_its_values(tmp_path):
    import pyarrow.parquet as pq

    xy_scaler(tmp_path)
    (tmp_path / "m.csv").write_text(
        "n,zip,price,signed,big,x,y,city\n"
        "1,007,1.50,+5,9007199254740993,1,10,Porto\n"
        "-2,110,2,3,0.5,2,20,Faro\n"
        "NA,,,,,3,30,\n"
    )
    r = run("transform", "m.csv", "-s", "xy.json", "-o", "m.parquet", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    schema = pq.read_schema(tmp_path / "m.parquet")
    types = {name: str(schema.field(name).type) for name in schema.names}
    assert types == {
        "n": "int64",  # plain integers that fit int64
        "zip": "string",  # a leading zero
        "price": "double",  # floats, read as pandas reads them
        "signed": "string",  # "+5" is not how 5 is written
        "big": "string",  # a float column, but 9007199254740993 is beyond 2**53, where float64 skips integers
        "x": "double",
        "y": "double",
        "city": "string",
    }
    rows = read_parquet(tmp_path / "m.parquet")
    assert [row["n"] for row in rows] == [1, -2, None]
    assert [row["zip"] for row in rows] == ["007", "110", ""]
    assert [row["price"] for row in rows] == [1.5, 2.0, None]
    assert [row["big"] for row in rows] == ["9007199254740993", "0.5", ""]


def test_parquet_to_parquet_keeps_integer_and_decimal_columns_as_they_were(tmp_path):
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    xy_scaler(tmp_path)
    table = pa.table(
        {
            "id": pa.array([2**63 - 1, -(2**63), 7], pa.int64()),
            "u": pa.array([2**64 - 1, 0, 1], pa.uint64()),
            "d": pa.array([decimal.Decimal("12345678901234567890.123456789")] * 3, pa.decimal128(38, 9)),
            "x": [1.0, 2.0, 3.0],
            "y": [10.0, 20.0, 30.0],
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    for out in ("out.parquet", "out.csv"):
        r = run("transform", "in.parquet", "-s", "xy.json", "-o", out, "-q", cwd=tmp_path)
        assert r.code == 0, r.err
    assert pq.read_table(tmp_path / "out.parquet").select(["id", "u", "d"]).equals(table.select(["id", "u", "d"]))
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[1].startswith("9223372036854775807,18446744073709551615,12345678901234567890.123456789,")


def test_csv_to_npy_keeps_small_integer_ids_exactly(tmp_path):
    xy_scaler(tmp_path)
    (tmp_path / "i.csv").write_text("id,x,y\n9007199254740992,1,10\n-3,3,30\n")
    r = run("transform", "i.csv", "-s", "xy.json", "-o", "i.npy", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert np.load(tmp_path / "i.npy").tolist() == [[9007199254740992.0, 0.0, 0.0], [-3.0, 1.0, 1.0]]


def test_csv_to_csv_still_copies_unscaled_columns_as_written(tmp_path):
    xy_scaler(tmp_path)
    (tmp_path / "a.csv").write_text(IDS)
    r = run("transform", "a.csv", "-s", "xy.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert [line.split(",")[0] for line in r.text.splitlines()] == [
        "id",
        "12345678901234567891",
        "12345678901234567892",
        "00123",
    ]


# --- item 12: a Parquet timestamp in a fixed-offset zone; file names that are not UTF-8 -----------


def test_a_fixed_offset_timestamp_column_is_written_to_csv_with_its_offset(tmp_path):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    xy_scaler(tmp_path)
    when = datetime.datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=datetime.UTC)
    table = pa.table(
        {
            "at": pa.array([when, None, when], pa.timestamp("ns", tz="+05:30")),
            "x": [1.0, 2.0, 3.0],
            "y": [10.0, 20.0, 30.0],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    r = run("transform", "t.parquet", "-s", "xy.json", "-o", "t.csv", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "at,x,y",
        "2024-01-01T15:30:00.123456000+0530,0.0,0.0",
        ",0.5,0.5",
        "2024-01-01T15:30:00.123456000+0530,1.0,1.0",
    ]


def test_file_names_that_are_not_utf8_work_for_every_format(tmp_path):
    import os

    xy_scaler(tmp_path)
    name = os.fsdecode(b"caf\xe9")  # Latin-1 bytes, as an old file system may hold
    (tmp_path / f"{name}.csv").write_text("x,y\n1,10\n2,20\n3,30\n")
    r = run("transform", f"{name}.csv", "-s", "xy.json", "-o", f"{name}.parquet", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("inverse", f"{name}.parquet", "-s", "xy.json", "-o", f"{name}2.csv", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert (tmp_path / f"{name}2.csv").read_text() == "x,y\n1.0,10.0\n2.0,20.0\n3.0,30.0\n"
    r = run("fit", f"{name}.csv", "-m", "zscore", "-o", f"{name}.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("stats", f"missing-{name}.csv", cwd=tmp_path)
    assert_clean_error(r, 1, "no such file")


# --- item 5: LRN where x^2, k or s leave the range of float32/float64 ------------------------------


def lrn_reference(x: np.ndarray, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    """torch's LRN evaluated directly in extended precision (x87 long double: exponents to
    1e+-4932), one window at a time: an independent reference for the tiled kernel."""
    wide = np.asarray(x, np.longdouble)
    squares = wide * wide
    lo, hi = size // 2, (size - 1) // 2
    sums = np.zeros_like(wide)
    for c in range(wide.shape[1]):
        sums[:, c] = squares[:, max(0, c - lo) : c + hi + 1].sum(axis=1)
    return wide * (np.longdouble(k) + np.longdouble(alpha / size) * sums) ** np.longdouble(-beta)


needs_long_double = pytest.mark.skipif(
    np.finfo(np.longdouble).maxexp <= 1024, reason="the reference needs a long double wider than float64"
)


def assert_within_1e6_of(y: np.ndarray, reference: np.ndarray) -> None:
    """Equal to 1e-6 relative where the reference fits the output dtype; inf where it does not."""
    limit = np.finfo(y.dtype).max
    fits = np.abs(reference) <= limit
    assert np.isinf(y[~fits]).all()
    wide = y[fits].astype(np.longdouble)
    scale = np.maximum(np.abs(reference[fits]), np.finfo(y.dtype).tiny)
    assert float(np.max(np.abs(wide - reference[fits]) / scale, initial=0.0)) <= 1e-6


@needs_long_double
@pytest.mark.parametrize(
    ("dtype", "magnitude", "options"),
    [
        (np.float32, 1e20, {}),  # x^2 overflows float32: every output was 0
        (np.float32, 3e38, {}),
        (np.float64, 1e200, {}),  # x^2 overflows float64
        (np.float64, 1.7e308, {}),
        (np.float32, 1.0, {"alpha": 1e-45, "bias": 1e-45}),  # s and k subnormal in float32: 97% off
        (np.float32, 1e-3, {"alpha": 1e-45, "bias": 1e-45}),
        (np.float64, 1e-200, {"bias": 0.0}),  # x^2 underflows float64 and k = 0
        (np.float32, 1e-30, {"alpha": 1.0, "bias": 1e-30, "beta": 2.0}),  # y far beyond x, still finite
    ],
)
def test_lrn_stays_within_1e6_of_an_extended_precision_reference(dtype, magnitude, options):
    x = (np.random.default_rng(4).random((2, 5, 3, 3)) * magnitude).astype(dtype)
    x[0, 0, 0, 0] = 0
    y = normcli.lrn(x, convention="torch", size=3, **options)
    assert y.dtype == dtype
    reference = lrn_reference(x, 3, options.get("alpha", 1e-4), options.get("beta", 0.75), options.get("bias", 1.0))
    assert_within_1e6_of(y, reference)


@needs_long_double
@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    exponent=st.integers(-320, 308),
    alpha=st.sampled_from([1e-4, 1.0, 1e-45, 1e-300, 1e10]),
    bias=st.sampled_from([1.0, 2.0, 1e-45, 1e-300, 0.5]),
    beta=st.sampled_from([0.75, 0.5, 1.0, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_lrn_over_the_whole_float_range_is_accurate_or_inf(dtype, exponent, alpha, bias, beta, seed):
    info = np.finfo(dtype)
    magnitude = float(np.clip(10.0**exponent if exponent < 308 else 1e308, info.smallest_subnormal, info.max))
    rng = np.random.default_rng(seed)
    x = (rng.random((1, 6, 2, 2)) * magnitude * rng.choice([-1, 1], (1, 6, 2, 2))).astype(dtype)
    y = normcli.lrn(x, convention="torch", size=3, alpha=alpha, beta=beta, bias=bias)
    assert_within_1e6_of(y, lrn_reference(x, 3, alpha, beta, bias))


def test_lrn_of_huge_float32_activations_on_the_command_line(tmp_path):
    """The issue's case: float32 1e20 with --size 3 gave all zeros, with exit 0."""
    np.save(tmp_path / "a.npy", np.full((1, 3, 2, 2), 1e20, np.float32))
    r = run("lrn", "a.npy", "--size", "3", "-o", "o.npy", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    y = np.load(tmp_path / "o.npy")
    # middle channel: 1e20 * (1 + 1e-4/3 * 3e40)^-0.75; edges see two channels
    np.testing.assert_allclose(y[0, 1], 1e20 * (1 + 1e-4 / 3 * 3e40) ** -0.75, rtol=1e-6)
    np.testing.assert_allclose(y[0, 0], 1e20 * (1 + 1e-4 / 3 * 2e40) ** -0.75, rtol=1e-6)


def test_lrn_results_beyond_float32_are_counted_and_reported(tmp_path):
    np.save(tmp_path / "a.npy", np.full((1, 3, 2, 2), 1e10, np.float32))
    r = run("lrn", "a.npy", "--size", "3", "--alpha", "0", "--bias", "1e-40", "-o", "o.npy", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "warning: 12 value(s) overflowed float32 and became inf" in r.err
    assert np.isinf(np.load(tmp_path / "o.npy")).all()  # 1e10 * (1e-40)^-0.75 = 1e40


# --- item 3: a quote that opens a value and is never closed ----------------------------------------


def open_quote_by_the_rules(data: bytes) -> tuple[int, int] | None:
    """RFC 4180 quoting, a byte at a time, as pyarrow's parser applies it: the offset and
    line of the quote left open at the end, or None."""
    in_quote, field_start, opened, i = False, True, -1, 0
    while i < len(data):
        c = data[i : i + 1]
        if in_quote:
            if c == b'"' and data[i + 1 : i + 2] == b'"':
                i += 2
                continue
            in_quote = c != b'"'
        elif c == b'"' and field_start:
            in_quote, opened = True, i
        field_start = not in_quote and c in (b",", b"\n", b"\r")
        i += 1
    return (opened, data.count(b"\n", 0, opened) + 1) if in_quote else None


@settings(max_examples=300, deadline=None)
@given(
    data=st.text(alphabet='ab,"\n\r', max_size=80).map(str.encode),
    cuts=st.lists(st.integers(0, 80), max_size=6),
)
def test_the_quote_scanner_follows_the_rules_whatever_the_chunks(data, cuts):
    from normcli.io.quotes import QuoteScanner

    scanner = QuoteScanner()
    bounds = [0, *sorted({c for c in cuts if c <= len(data)}), len(data)]
    for start, stop in zip(bounds, bounds[1:], strict=False):
        scanner.feed(data[start:stop])
    found = scanner.finish()
    assert (None if found is None else (found.offset, found.line)) == open_quote_by_the_rules(data)


def test_quotes_that_are_closed_doubled_literal_or_span_lines_are_not_an_error(tmp_path):
    xy_scaler(tmp_path)
    rows = '1,10,"a ""quoted"" word"\n2,20,5\'11"\n3,30,"two\nlines"\n4,40,"c"d\n'
    (tmp_path / "ok.csv").write_text("x,y,note\n" + rows * 50_000)  # 3.7 MB: past the sniffed head
    r = run("transform", "ok.csv", "-s", "xy.json", "-o", "ok.parquet", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    notes = [row["note"] for row in read_parquet(tmp_path / "ok.parquet")]
    assert notes[:4] == ['a "quoted" word', "5'11\"", "two\nlines", "cd"] and len(notes) == 200_000


def test_an_unclosed_quote_beyond_the_first_mib_names_its_line(tmp_path):
    xy_scaler(tmp_path)
    rows = "".join(f"{i},{i},note {i}\n" for i in range(100_000))
    (tmp_path / "q.csv").write_text("x,y,note\n" + rows + '7,8,"never closed\n9,10,b\n9,10,b\n')
    for args in (("-o", "out.csv"), ()):
        r = run("transform", "q.csv", "-s", "xy.json", *args, cwd=tmp_path)
        assert r.code == 1
        assert r.err.strip().splitlines()[-1].startswith("error: q.csv: the quote opened on line 100002 ")
    assert not (tmp_path / "out.csv").exists()
