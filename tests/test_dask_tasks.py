"""Tasks smaller than a file (runs of Parquet row groups, CSV byte ranges), `stats --engine
dask`, and the version check against a real worker.

The splitting itself is checked without a cluster; the runs share one LocalCluster per
module (processes on 127.0.0.1, marked `cluster`). The task size comes from
NORMCLI_TASK_BYTES, set small here so that small files make several tasks.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normcli.engines.tasks import split_parts
from normcli.io.dataset import expand_inputs

from conftest import NORMCLI, Run, assert_clean_error

BIN = Path(sys.executable).parent


def normcli(*args: str | os.PathLike, cwd: Path, task_bytes: int | None = 4000) -> Run:
    env = {**os.environ, "COLUMNS": "200"}
    if task_bytes is not None:
        env["NORMCLI_TASK_BYTES"] = str(task_bytes)
    proc = subprocess.run(
        [str(NORMCLI), *map(str, args)], capture_output=True, cwd=cwd, timeout=120, env=env, check=False
    )
    return Run(proc.returncode, proc.stdout, proc.stderr.decode())


def exports(root: Path, days: int = 3, rows: int = 400, seed: int = 5) -> None:
    """Daily CSV exports: a price near 1e9, a skewed load, a site name."""
    rng = np.random.default_rng(seed)
    root.mkdir()
    for d in range(days):
        lines = ["price,load,site"]
        for _ in range(rows):
            lines.append(f"{rng.normal(1e9, 7.0)!r},{rng.lognormal(0, 2)!r},site{int(rng.integers(0, 4))}")
        (root / f"2026-01-{d + 1:02d}.csv").write_text("\n".join(lines) + "\n")


def lake(root: Path, seed: int = 3) -> None:
    """Hive-partitioned Parquet parts written with small row groups (several per file)."""
    rng = np.random.default_rng(seed)
    for day in (1, 2):
        folder = root / f"day={day}"
        folder.mkdir(parents=True)
        n = 3000
        table = pa.table(
            {"price": rng.normal(1e9, 7.0, n), "load": rng.lognormal(0, 2, n), "site": ["a", "b"] * (n // 2)}
        )
        pq.write_table(table, folder / "part-0.parquet", row_group_size=250)


# --- splitting, no cluster -----------------------------------------------------------------------


def pieces_of(path: Path, target: int):
    dataset = expand_inputs([str(path)])
    return split_parts(dataset.parts, dataset.format, target)


def test_a_large_csv_is_cut_on_row_boundaries_covering_every_row_once(tmp_path):
    exports(tmp_path / "x", days=1, rows=500)
    path = tmp_path / "x" / "2026-01-01.csv"
    data = path.read_bytes()
    pieces = pieces_of(path, 3000)
    assert len(pieces) > 5
    header = data.index(b"\n") + 1
    assert all(p.header == header for p in pieces)
    assert pieces[0].start == header and pieces[-1].stop == len(data)
    assert b"".join(data[p.start : p.stop] for p in pieces) == data[header:]
    assert all(data[p.start - 1 : p.start] == b"\n" for p in pieces)
    assert "2026-01-01.csv (bytes " in pieces[1].label


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.text(alphabet="0123456789.,-e", min_size=0, max_size=30), min_size=1, max_size=60),
    target=st.integers(min_value=1, max_value=200),
    crlf=st.booleans(),
)
def test_byte_ranges_partition_the_rows_whatever_the_target(tmp_path_factory, rows, target, crlf):
    end = "\r\n" if crlf else "\n"
    data = ("a,b" + end + end.join(rows) + end).encode()
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(data)
    pieces = pieces_of(path, target)
    header = data.index(b"\n") + 1
    if len(pieces) == 1 and pieces[0].whole:
        # too small to cut, or no row starts past the first cut
        assert len(data) <= target or b"\n" not in data[header + target : -1]
        return
    assert b"".join(data[p.start : p.stop] for p in pieces) == data[header:]
    for p in pieces:
        assert p.stop > p.start
        assert data[p.start - 1 : p.start] == b"\n"  # every piece starts a row


def test_a_quoted_header_alone_does_not_keep_a_csv_whole(tmp_path):
    path = tmp_path / "arrow.csv"  # as pyarrow.csv.write_csv writes it
    path.write_text('"price","qty"\n' + "".join(f"{i}.5,{i}\n" for i in range(2000)))
    pieces = pieces_of(path, 2000)
    assert len(pieces) > 3 and pieces[0].start == len('"price","qty"\n')
    odd = tmp_path / "odd.csv"
    odd.write_text('"price\nusd",qty\n' + "".join(f"{i}.5,{i}\n" for i in range(2000)))
    assert [p.whole for p in pieces_of(odd, 2000)] == [True]


def test_a_csv_with_quotes_or_compression_is_kept_whole(tmp_path):
    quoted = tmp_path / "notes.csv"
    quoted.write_text("id,note\n" + "".join(f'{i},"line one\nline two {i}"\n' for i in range(400)))
    assert [p.whole for p in pieces_of(quoted, 500)] == [True]
    packed = tmp_path / "packed.csv.gz"
    packed.write_bytes(gzip.compress(b"x\n" + b"1.5\n" * 20000))
    assert [p.whole for p in pieces_of(packed, 500)] == [True]


def test_parquet_row_groups_are_grouped_up_to_the_target(tmp_path):
    lake(tmp_path / "lake")
    path = tmp_path / "lake" / "day=1" / "part-0.parquet"
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 12
    group = meta.row_group(0).total_byte_size
    pieces = pieces_of(path, 3 * group + 1)
    assert [p.row_groups for p in pieces] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)]
    assert pieces[1].label.endswith("part-0.parquet (row groups 4-6)")
    assert [p.whole for p in pieces_of(path, 10**9)] == [True]


# --- on a cluster --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scheduler():
    """One LocalCluster of two worker processes for the module's runs."""
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL, host="127.0.0.1",
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def fitted(path: Path) -> dict:
    return {c["name"]: c["fitted"] for c in json.loads(path.read_text())["columns"]}


def assert_same_fit(a: Path, b: Path) -> None:
    left, right = fitted(a), fitted(b)
    assert left.keys() == right.keys() and left
    for name in left:
        assert left[name].keys() == right[name].keys()
        for key, value in left[name].items():
            assert right[name][key] == pytest.approx(value, rel=1e-12, abs=0), (name, key)


@pytest.mark.cluster
def test_a_fit_of_csv_byte_ranges_equals_the_local_engine(tmp_path, scheduler):
    exports(tmp_path / "exports")
    fit = ("fit", "exports", "-m", "zscore", "-m", "load=robust", "-q")
    assert normcli(*fit, "-o", "local.json", cwd=tmp_path).code == 0
    r = normcli(*fit, "-o", "dask.json", "--engine", "dask", "--scheduler", scheduler, cwd=tmp_path)
    assert r.code == 0, r.err
    assert len(pieces_of(tmp_path / "exports", 4000)) >= 9  # the run above had at least 3 tasks per file
    assert_same_fit(tmp_path / "local.json", tmp_path / "dask.json")


@pytest.mark.cluster
def test_a_fit_of_parquet_row_group_runs_equals_the_local_engine(tmp_path, scheduler):
    lake(tmp_path / "lake")
    fit = ("fit", "lake", "-m", "minmax", "-m", "price=zscore", "-q")
    assert normcli(*fit, "-o", "local.json", cwd=tmp_path).code == 0
    r = normcli(*fit, "-o", "dask.json", "--engine", "dask", "--scheduler", scheduler, cwd=tmp_path, task_bytes=20000)
    assert r.code == 0, r.err
    assert_same_fit(tmp_path / "local.json", tmp_path / "dask.json")


@pytest.mark.cluster
def test_file_urls_on_the_cluster_equal_the_local_engine(tmp_path, scheduler):
    """URL parts reach the workers as URLs (read there through fsspec), one task each."""
    lake(tmp_path / "lake")
    assert normcli("fit", "lake", "-m", "zscore", "-o", "local.json", "-q", cwd=tmp_path).code == 0
    url = f"file://{tmp_path}/lake/"
    r = normcli("fit", url, "-m", "zscore", "-o", "dask.json", "--engine", "dask", "--scheduler", scheduler, "-q",
                cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert_same_fit(tmp_path / "local.json", tmp_path / "dask.json")
    r = normcli("transform", url, "-s", "local.json", "-o", f"file://{tmp_path}/out/", "--engine", "dask",
                "--scheduler", scheduler, "-q", cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.parquet")) == [
        "day=1/part-0.parquet",
        "day=2/part-0.parquet",
    ]


@pytest.mark.cluster
def test_a_quoted_csv_with_line_breaks_fits_as_locally(tmp_path, scheduler):
    rng = np.random.default_rng(2)
    (tmp_path / "notes").mkdir()
    for d in range(2):
        body = "".join(f'{rng.normal(50, 4)!r},"checked\nby {i}"\n' for i in range(300))
        (tmp_path / "notes" / f"n{d}.csv").write_text("temp,note\n" + body)
    assert normcli("fit", "notes", "-m", "zscore", "-o", "local.json", "-q", cwd=tmp_path).code == 0
    r = normcli("fit", "notes", "-m", "zscore", "-o", "dask.json", "--engine", "dask", "--scheduler", scheduler,
                cwd=tmp_path, task_bytes=500)  # fmt: skip
    assert r.code == 0, r.err
    assert_same_fit(tmp_path / "local.json", tmp_path / "dask.json")
    assert json.loads((tmp_path / "dask.json").read_text())["columns"][0]["stats"]["count"] == 600


@pytest.mark.cluster
def test_bad_data_in_a_byte_range_names_the_part_and_writes_nothing(tmp_path, scheduler):
    exports(tmp_path / "exports")
    part = tmp_path / "exports" / "2026-01-02.csv"
    lines = part.read_text().splitlines()
    lines[350] = "cheap," + lines[350].split(",", 1)[1]
    part.write_text("\n".join(lines) + "\n")
    r = normcli("fit", "exports", "-m", "zscore", "-o", "s.json", "--engine", "dask", "--scheduler", scheduler,
                cwd=tmp_path)  # fmt: skip
    assert_clean_error(r, 1, "2026-01-02.csv (bytes ", "'price'")
    assert not (tmp_path / "s.json").exists()


def stats_json(tmp_path: Path, *args: str, task_bytes: int | None = None) -> dict:
    r = normcli("stats", *args, "--json", cwd=tmp_path, task_bytes=task_bytes)
    assert r.code == 0, r.err
    return json.loads(r.out)


def assert_same_stats(local: dict, dask: dict) -> None:
    assert list(local) == list(dask)
    for name, summary in local.items():
        assert dask[name].keys() == summary.keys(), name
        for key, value in summary.items():
            if isinstance(value, float):
                assert dask[name][key] == pytest.approx(value, rel=1e-12), (name, key)
            else:
                assert dask[name][key] == value, (name, key)


@pytest.mark.cluster
def test_stats_on_dask_equals_the_local_engine(tmp_path, scheduler):
    exports(tmp_path / "exports")
    local = stats_json(tmp_path, "exports")
    dask = stats_json(tmp_path, "exports", "--engine", "dask", "--scheduler", scheduler, task_bytes=4000)
    assert local["site"]["distinct"] == 4 and local["price"]["count"] == 1200
    assert_same_stats(local, dask)

    lake(tmp_path / "lake")
    local = stats_json(tmp_path, "lake", "--columns", "price,site,day")
    dask = stats_json(tmp_path, "lake", "--columns", "price,site,day", "--engine", "dask", "--scheduler", scheduler,
                      task_bytes=20000)  # fmt: skip
    assert list(dask) == ["price", "site", "day"] and dask["day"]["count"] == 6000
    assert_same_stats(local, dask)


@pytest.mark.cluster
def test_stats_on_dask_without_a_cluster_option_is_a_usage_error(tmp_path):
    exports(tmp_path / "exports", days=1)
    env_free = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    proc = subprocess.run(
        [str(NORMCLI), "stats", "exports", "--engine", "dask"], cwd=tmp_path, capture_output=True, env=env_free,
        timeout=60, check=False,
    )  # fmt: skip
    assert_clean_error(Run(proc.returncode, proc.stdout, proc.stderr.decode()), 2, "--scheduler", "--workers")


PRELOAD = """
# A worker that reports another normcli version, as a worker with an older install would.
import normcli

normcli.__version__ = "0.0.1-old"
"""


@pytest.mark.cluster
def test_a_worker_of_another_version_stops_the_run_with_exit_1(tmp_path):
    """A real `dask scheduler` and `dask worker`, the worker preloading a module that makes its
    normcli report another version: normcli refuses to run there, naming the worker."""
    pytest.importorskip("distributed")
    from distributed import Client

    (tmp_path / "old_normcli.py").write_text(PRELOAD)
    info = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    ]
    try:
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "dask"),
                    "worker",
                    "--scheduler-file",
                    str(info),
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--preload",
                    str(tmp_path / "old_normcli.py"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp_path,
            )  # fmt: skip
        )
        with Client(scheduler_file=str(info), timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            address = client.scheduler.address
        exports(tmp_path / "exports", days=1)
        r = normcli("fit", "exports", "-m", "zscore", "-o", "s.json", "--engine", "dask", "--scheduler", address,
                    cwd=tmp_path)  # fmt: skip
        from normcli import __version__

        assert_clean_error(r, 1, "runs normcli 0.0.1-old", f"this client {__version__}", "install the same version")
        assert not (tmp_path / "s.json").exists()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
