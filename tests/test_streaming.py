"""Streaming: many small batches give the same scaler and output as one big one."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import normcli
from normcli.io import csv_reader, open_reader, open_writer, parquet_reader
from normcli.pipeline import apply_stream, fit_stream


def make_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "tag": [f"t{i % 7}" for i in range(rows)],
            "big": 1e9 + rng.standard_normal(rows),
            "small": rng.exponential(1e-6, rows),
            "count": rng.integers(0, 1000, rows),
        }
    )
    df.loc[df.index % 11 == 3, "small"] = np.nan
    return df


@pytest.fixture
def tiny_batches(monkeypatch):
    monkeypatch.setattr(csv_reader, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(csv_reader, "SNIFF_BYTES", 4096)
    monkeypatch.setattr(parquet_reader, "PARQUET_BATCH_ROWS", 97)


@pytest.mark.filterwarnings("ignore:column .* is constant")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 3000), seed=st.integers(0, 1000), method=st.sampled_from(["zscore", "minmax", "atan"]))
def test_streamed_fit_equals_the_in_memory_fit(tmp_path, tiny_batches, rows, seed, method):
    df = make_frame(rows, seed)
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    streamed = fit_stream(open_reader(str(path)), method=method).scaler
    whole = normcli.fit(pd.read_csv(path), method)
    assert streamed.names == whole.names
    for name in whole.names:
        a, b = streamed[name], whole[name]
        for key, value in b.fitted.items():
            assert a.fitted[key] == pytest.approx(value, rel=1e-12, abs=1e-300), (name, key)
        sa, sb = a.stats.summary(), b.stats.summary()
        assert sa["count"] == sb["count"] and sa["nulls"] == sb["nulls"]
        assert sa["std"] == pytest.approx(sb["std"], rel=1e-12, abs=1e-300)


def test_streamed_transform_to_parquet_equals_the_in_memory_transform(tmp_path, tiny_batches):
    df = make_frame(2500, 1)
    src = tmp_path / "d.parquet"
    df.to_parquet(src, index=False)
    assert pq.ParquetFile(src).metadata.num_rows == 2500
    scaler = normcli.fit(df, "zscore")
    out = tmp_path / "o.parquet"
    reader = open_reader(str(src))
    with open_writer(str(out), "parquet") as writer:
        result = apply_stream(reader, writer, scaler)
    assert result.rows == 2500
    got = pd.read_parquet(out)
    expected = scaler.transform(df)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert result.after["big"].std() == pytest.approx(1.0, rel=1e-12)


def test_a_type_change_after_the_first_block_is_read_as_float(tmp_path, tiny_batches):
    lines = ["a,b"] + [f"{i},x" for i in range(2000)] + ["1.5,y"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    scaler = fit_stream(open_reader(str(path)), method="minmax").scaler
    assert scaler["a"].fitted == {"min": 0.0, "max": 1999.0}
    out = tmp_path / "o.csv"
    reader = open_reader(str(path), float_columns=scaler.names, text_passthrough=True)
    with open_writer(str(out), "csv") as writer:
        result = apply_stream(reader, writer, scaler)
    assert result.rows == 2001
    rows = out.read_text().splitlines()
    assert rows[0] == "a,b" and len(rows) == 2002
    last, text = rows[-1].split(",")
    assert float(last) == pytest.approx(1.5 / 1999, rel=1e-15) and text == "y"  # the float after 2000 integers
    assert [float(row.split(",")[0]) for row in rows[1:4]] == pytest.approx([0.0, 1 / 1999, 2 / 1999], rel=1e-15)
