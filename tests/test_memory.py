"""Bounded memory (issue 9, items 13-14; issue 12, items 3 and 5): Parquet is decoded page by
page into batches sized in bytes and written in row groups of a bounded size, and .npy arrays
stream along any axis. The mechanism is tested with tiny settings; the peak RSS itself is
measured by benchmarks/bench_parquet_memory.py on real sizes."""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import normcli
from normcli.io import npy_reader, open_reader, open_writer, parquet_reader, writers
from normcli.io.arrays import block_axis, load_npy
from normcli.lrn_kernel import lrn_apply, resolve_spec
from normcli.pipeline import apply_stream, fit_stream, lrn_file

from conftest import NORMCLI, Run, assert_clean_error, run


def one_group_table(rows: int, seed: int = 0) -> pa.Table:
    """Floats with nulls and a 1e9 offset, integers and text, as pandas writes them."""
    rng = np.random.default_rng(seed)
    big = 1e9 + rng.standard_normal(rows)
    big[::13] = np.nan
    return pa.table(
        {
            "big": pa.array(big, from_pandas=True),
            "small": rng.exponential(1e-6, rows),
            "count": rng.integers(0, 1000, rows),
            "tag": [f"t{i % 7}" for i in range(rows)],
        }
    )


@pytest.fixture
def tiny_parquet_reads(monkeypatch):
    monkeypatch.setattr(parquet_reader, "PARQUET_BATCH_BYTES", 4096)
    monkeypatch.setattr(parquet_reader, "PARQUET_BUFFER_BYTES", 1024)


# --- Parquet reading ---------------------------------------------------------------------------------


def test_one_row_group_is_read_in_small_batches_that_add_up_to_the_file(tmp_path, tiny_parquet_reads):
    table = one_group_table(5000)
    path = tmp_path / "one.parquet"
    pq.write_table(table, path, data_page_size=2048)
    assert pq.ParquetFile(path).metadata.num_row_groups == 1
    batches = [b.rb for b in open_reader(str(path)).batches()]
    assert len(batches) > 10
    assert max(b.num_rows for b in batches) < 5000 // 10
    assert pa.Table.from_batches(batches).equals(pq.read_table(path))


def test_fewer_columns_read_mean_more_rows_per_batch(tmp_path, tiny_parquet_reads):
    path = tmp_path / "one.parquet"
    pq.write_table(one_group_table(5000), path)
    every = open_reader(str(path)).batch_rows(None)
    one = open_reader(str(path)).batch_rows(["small"])
    assert one >= 2 * every
    batches = [b.rb for b in open_reader(str(path)).batches(columns=["small"])]
    assert pa.Table.from_batches(batches).equals(pq.read_table(path, columns=["small"]))


def test_a_fit_from_small_parquet_batches_equals_the_in_memory_fit(tmp_path, tiny_parquet_reads):
    table = one_group_table(3000, seed=4)
    path = tmp_path / "one.parquet"
    pq.write_table(table, path)
    streamed = fit_stream(open_reader(str(path)), method="zscore").scaler
    whole = normcli.fit(table.to_pandas(), "zscore")
    for name in ("big", "small", "count"):
        for key, value in whole[name].fitted.items():
            assert streamed[name].fitted[key] == pytest.approx(value, rel=1e-12), (name, key)


# --- Parquet writing ---------------------------------------------------------------------------------


def test_output_row_groups_are_bounded_in_rows_and_bytes(tmp_path, tiny_parquet_reads, monkeypatch):
    monkeypatch.setattr(writers.ParquetWriter, "GROUP_ROWS", 700)
    monkeypatch.setattr(writers.ParquetWriter, "GROUP_BYTES", 1 << 30)
    table = one_group_table(5000, seed=2)
    src, out = tmp_path / "one.parquet", tmp_path / "out.parquet"
    pq.write_table(table, src)
    scaler = normcli.fit(table.to_pandas(), "zscore")
    with open_writer(str(out), "parquet") as writer:
        apply_stream(open_reader(str(src)), writer, scaler)
    meta = pq.ParquetFile(out).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    batch = open_reader(str(src)).batch_rows(None)
    assert sum(sizes) == 5000 and len(sizes) > 1
    assert all(700 <= n < 700 + batch for n in sizes[:-1]) and sizes[-1] <= 700 + batch
    pd.testing.assert_frame_equal(
        pq.read_table(out).to_pandas(), scaler.transform(table.to_pandas()), check_dtype=False
    )


def test_transform_of_a_million_row_group_writes_row_groups_of_at_most_128k_rows(tmp_path):
    rows = 300_000
    rng = np.random.default_rng(7)
    table = pa.table({"x": rng.standard_normal(rows) * 5 + 3, "id": np.arange(rows)})
    src, scaler, out = tmp_path / "one.parquet", tmp_path / "s.json", tmp_path / "out.parquet"
    pq.write_table(table, src, row_group_size=rows)
    assert run("fit", src, "-m", "zscore", "--columns", "x", "-o", scaler, "-q").code == 0
    r = run("transform", src, "-s", scaler, "-o", out, "-q")
    assert r.code == 0 and r.err == "", r.err
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == rows and meta.num_row_groups >= 3
    assert all(meta.row_group(i).num_rows <= 128 * 1024 for i in range(meta.num_row_groups))
    got = pq.read_table(out)
    expected = normcli.load(scaler).transform(table.to_pandas())
    np.testing.assert_array_equal(got.column("x").to_numpy(), expected["x"].to_numpy())
    assert got.column("id").equals(table.column("id"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as Linux enforces it")
def test_a_row_group_that_does_not_fit_in_memory_is_named_with_its_size_and_the_fix(tmp_path):
    # 200,000 copies of one 64 KiB string, dictionary-encoded: 1 MB on disk, 13 GB decoded
    rows = 200_000
    text = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["x" * 65536]))
    pq.write_table(
        pa.table({"a": np.arange(rows, dtype=float), "t": text}), tmp_path / "wide.parquet", store_schema=False
    )
    assert (
        run("fit", tmp_path / "wide.parquet", "-m", "minmax", "--columns", "a", "-o", tmp_path / "s.json", "-q").code
        == 0
    )

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    proc = subprocess.run(
        [str(NORMCLI), "transform", "wide.parquet", "-s", "s.json", "-o", "out.parquet"],
        cwd=tmp_path,
        capture_output=True,
        preexec_fn=limit_memory,
        timeout=120,
    )
    r = Run(proc.returncode, proc.stdout, proc.stderr.decode())
    assert_clean_error(r, 1, "wide.parquet", "row group 1 of 1", "200,000 rows", "row_group_size")
    assert "not a readable Parquet file" not in r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "wide.parquet"]


# --- .npy along any axis -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "whole", "block", "expected"),
    [
        ((4, 1000), (0,), 8 * 4 * 10, 1),  # features first: cut along the samples
        ((1000, 4), (1,), 1 << 20, 0),  # rows x features: along the rows, as a file is laid out
        ((1, 8, 50, 60), (1,), 8 * 8 * 60 * 4, 2),  # one sample larger than a block: along its height
        ((2, 8, 50, 60), (1,), 1 << 30, 0),
        ((8, 50), (0, 1), 64, None),  # every axis whole: one block
        ((0, 5), (1,), 64, None),
    ],
)
def test_the_block_axis_keeps_features_whole_and_follows_the_file_where_it_can(shape, whole, block, expected):
    assert block_axis(shape, 8, whole, block) == expected


ARRAY_SHAPES = st.sampled_from([(5, 40), (3, 7, 11), (2, 3, 4, 5), (1, 6, 9, 4), (40, 3)])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=ARRAY_SHAPES,
    axis=st.integers(0, 3),
    fortran=st.booleans(),
    block=st.integers(8, 600),
    seed=st.integers(0, 100),
)
def test_an_array_streamed_in_blocks_smaller_than_a_feature_fits_and_transforms_as_in_memory(
    tmp_path_factory, monkeypatch, shape, axis, fortran, block, seed
):
    axis %= len(shape)
    tmp = tmp_path_factory.mktemp("npy")
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * 10 + 1e6, dtype=np.float32, order="F" if fortran else "C")
    np.save(tmp / "a.npy", x)
    monkeypatch.setattr(npy_reader, "NPY_BATCH_BYTES", block)
    streamed = fit_stream(open_reader(str(tmp / "a.npy"), axis=axis), method="zscore").scaler
    whole = normcli.fit(x, "zscore", axis=axis)
    for name in whole.names:
        for key, value in whole[name].fitted.items():
            assert streamed[name].fitted[key] == pytest.approx(value, rel=1e-12), (name, key)
    reader = open_reader(str(tmp / "a.npy"), axis=axis)
    with open_writer(str(tmp / "out.npy"), "npy", shape=reader.shape, dtype=np.dtype(np.float64)) as writer:
        apply_stream(reader, writer, whole)
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), whole.transform(x))


LRN_CASES = [
    ((6, 5, 7, 3), 0, "torch", "across"),
    ((2, 6, 9, 4), 1, "torch", "across"),
    ((1, 6, 9, 4), 1, "caffe", "within"),
    ((6, 5, 7, 3), 0, "caffe", "within"),
    ((9, 20), 0, "onnx", "across"),
]


@pytest.mark.parametrize("fortran", [False, True], ids=["C", "F"])
@pytest.mark.parametrize(("shape", "channel_axis", "convention", "region"), LRN_CASES)
@pytest.mark.parametrize("block", [1, 50, 1 << 30])
def test_lrn_streamed_along_any_axis_equals_lrn_in_memory(
    tmp_path, shape, channel_axis, convention, region, fortran, block
):
    x = np.asarray(np.random.default_rng(3).standard_normal(shape), np.float32, order="F" if fortran else "C")
    np.save(tmp_path / "a.npy", x)
    spec = resolve_spec(convention=convention, ndim=x.ndim, channel_axis=channel_axis, size=3, region=region)
    result = lrn_file(
        load_npy(str(tmp_path / "a.npy")), str(tmp_path / "o.npy"), spec, with_stats=True, block_bytes=block
    )
    expected = lrn_apply(np.ascontiguousarray(x), spec)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), expected)
    assert [s.count for s in result.after.stats] == [x.size // shape[channel_axis]] * shape[channel_axis]


def test_lrn_with_channels_first_streams_to_stdout_and_to_a_file_alike(tmp_path):
    x = np.random.default_rng(5).random((16, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "c.npy", x)
    args = ("lrn", "c.npy", "--channel-axis", "0", "--size", "5", "-q")
    to_file = run(*args, "-o", "o.npy", cwd=tmp_path)
    to_stdout = run(*args, "-o", "-", cwd=tmp_path)
    assert to_file.code == 0 and to_stdout.code == 0, (to_file.err, to_stdout.err)
    assert to_stdout.out == (tmp_path / "o.npy").read_bytes()
    spec = resolve_spec(convention="torch", ndim=4, channel_axis=0, size=5)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), lrn_apply(x, spec))


def test_fit_and_transform_with_features_first_on_the_command_line(tmp_path):
    x = np.random.default_rng(9).standard_normal((4, 30, 5)) * [[[1.0]], [[10.0]], [[1e3]], [[1e-3]]] + 7
    np.save(tmp_path / "f.npy", x)
    assert run("fit", "f.npy", "--axis", "0", "-m", "minmax", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    r = run("transform", "f.npy", "-s", "s.json", "-o", "o.npy", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), (x - lo) / (hi - lo), rtol=1e-12, atol=1e-15)
