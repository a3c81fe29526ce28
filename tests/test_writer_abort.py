"""A failed write does no work: the output of a command that fails half-way is given up, not
finished. No Parquet footer makes a partial output look complete, no pending CSV is formatted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import normcli
from normcli.io import parquet_reader
from normcli.io.writers import CsvWriter

from conftest import NORMCLI

BATCHES = 5
ROWS = BATCHES * parquet_reader.PARQUET_BATCH_ROWS  # five record batches of the Parquet reader


@pytest.fixture
def failing_late(tmp_path: Path) -> Path:
    """A Parquet file whose last batch holds a value log cannot take, and the log scaler for it:
    the first batches have reached the writer when the last one fails."""
    x = np.arange(1.0, ROWS + 1.0)
    x[-1] = -1.0
    pq.write_table(pa.table({"x": x}), tmp_path / "in.parquet")
    normcli.fit({"x": np.array([1.0, 10.0])}, "log").save(tmp_path / "s.json")
    return tmp_path


def transform_to_stdout(folder: Path, fmt: str) -> tuple[int, str, bytes]:
    """`normcli transform ... -o /dev/stdout > out`: the output is written in place, as to a pipe."""
    with open(folder / "out", "wb") as out:
        proc = subprocess.run(
            [str(NORMCLI), "transform", "in.parquet", "-s", "s.json", "-o", "/dev/stdout", "--output-format", fmt],
            stdout=out,
            stderr=subprocess.PIPE,
            cwd=folder,
            timeout=120,
        )
    return proc.returncode, proc.stderr.decode(), (folder / "out").read_bytes()


def test_a_failed_parquet_output_gets_no_footer(failing_late):
    code, err, out = transform_to_stdout(failing_late, "parquet")
    assert code == 1 and err.startswith("error: column 'x' has values <= 0"), err
    assert out.startswith(b"PAR1")  # row groups were written before the failure
    assert not out.endswith(b"PAR1")  # but no footer: no reader takes it for a whole file
    with pytest.raises(pa.ArrowInvalid):
        pq.read_metadata(failing_late / "out")


def test_a_failed_csv_output_formats_nothing_more(failing_late):
    assert ROWS * 8 < CsvWriter.GROUP_BYTES  # the batches written before the failure are still pending
    code, err, out = transform_to_stdout(failing_late, "csv")
    assert code == 1 and err.startswith("error: column 'x' has values <= 0"), err
    assert out == b""
