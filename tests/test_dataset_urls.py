"""Dataset inputs and directory outputs named by URL, through fsspec.

`file://` URLs take the same path as a remote scheme (listed, read and written through the
filesystem, never turned into a local path); fsspec's in-process `memory://` filesystem
stands for an object store, run in process (tests/inprocess.py) since it lives in this
process's memory.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from normcli.io import fs as fs_module
from normcli.io import open_reader

from conftest import assert_clean_error, run
from inprocess import invoke

fsspec = pytest.importorskip("fsspec")


def lake(root: Path, seed: int = 4) -> None:
    rng = np.random.default_rng(seed)
    for day in (1, 2, 3):
        folder = root / f"day={day}"
        folder.mkdir(parents=True)
        n = int(rng.integers(100, 400))
        table = pa.table({"price": rng.normal(1e9, 7.0, n), "load": rng.lognormal(0, 2, n), "site": ["a"] * n})
        pq.write_table(table, folder / "part-0.parquet")
        (folder / "_SUCCESS").write_text("")


def fitted(path: Path) -> dict:
    return {c["name"]: c["fitted"] for c in json.loads(path.read_text())["columns"]}


@pytest.fixture
def memory():
    """A fresh folder of fsspec's memory filesystem, removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = "/normcli-test"
    if fs.exists(root):
        fs.rm(root, recursive=True)
    fs.makedirs(root, exist_ok=True)
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_a_file_url_is_read_through_the_filesystem_not_as_a_path(tmp_path, monkeypatch):
    lake(tmp_path / "lake")
    (tmp_path / "t.csv").write_text("x,y\n1,2\n3,4\n")
    opened = []
    real = fs_module.filesystem

    def spy(url):
        opened.append(url)
        return real(url)

    monkeypatch.setattr(fs_module, "filesystem", spy)
    parquet = f"file://{tmp_path}/lake/day=1/part-0.parquet"
    with open_reader(parquet) as reader:
        assert reader.names == ["price", "load", "site"]
        rows = sum(b.num_rows for b in reader.batches())
    assert rows == pq.read_metadata(tmp_path / "lake" / "day=1" / "part-0.parquet").num_rows
    with open_reader(f"file://{tmp_path}/t.csv") as reader:
        assert sum(b.num_rows for b in reader.batches()) == 2
    assert opened == [parquet, f"file://{tmp_path}/t.csv"]


def test_fit_and_transform_of_file_urls_equal_those_of_paths(tmp_path):
    lake(tmp_path / "lake")
    assert run("fit", "lake", "-m", "zscore", "-o", "paths.json", "-q", cwd=tmp_path).code == 0
    r = run("fit", f"file://{tmp_path}/lake/", "-m", "zscore", "-o", "urls.json", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "read 3 parts" in r.err
    assert fitted(tmp_path / "paths.json") == fitted(tmp_path / "urls.json")

    assert run("transform", "lake", "-s", "paths.json", "-o", "a/", "-q", cwd=tmp_path).code == 0
    r = run("transform", f"file://{tmp_path}/lake/", "-s", "paths.json", "-o", f"file://{tmp_path}/b/", "-q",
            cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    for day in (1, 2, 3):
        a = pq.read_table(tmp_path / "a" / f"day={day}" / "part-0.parquet")
        assert a.equals(pq.read_table(tmp_path / "b" / f"day={day}" / "part-0.parquet"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "lake", "paths.json", "urls.json"]
    # an existing output is refused without --overwrite, before any work
    r = run("transform", f"file://{tmp_path}/lake/", "-s", "paths.json", "-o", f"file://{tmp_path}/b/", cwd=tmp_path)
    assert_clean_error(r, 2, f"file://{tmp_path}/b/", "--overwrite")


def test_a_memory_dataset_fits_and_transforms_as_local_files(tmp_path, memory):
    fs, root = memory
    lake(tmp_path / "lake")
    fs.put(str(tmp_path / "lake"), f"{root}/lake", recursive=True)
    assert fs.exists(f"{root}/lake/day=2/part-0.parquet")
    assert run("fit", "lake", "-m", "zscore", "-m", "load=log", "-o", "local.json", "-q", cwd=tmp_path).code == 0
    r = invoke("fit", f"memory://{root}/lake/", "-m", "zscore", "-m", "load=log", "-o", "mem.json", cwd=tmp_path)
    assert r.code == 0, r.err
    assert fitted(tmp_path / "local.json") == fitted(tmp_path / "mem.json")

    r = invoke("transform", f"memory://{root}/lake/", "-s", "local.json", "-o", f"memory://{root}/scaled/", "-q",
               cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert run("transform", "lake", "-s", "local.json", "-o", "scaled/", "-q", cwd=tmp_path).code == 0
    written = sorted(p[len(root) + 1 :] for p in fs.find(f"{root}/scaled"))
    assert written == [f"scaled/day={d}/part-0.parquet" for d in (1, 2, 3)]
    for day in (1, 2, 3):
        with fs.open(f"{root}/scaled/day={day}/part-0.parquet", "rb") as fh:
            assert pq.read_table(fh).equals(pq.read_table(tmp_path / "scaled" / f"day={day}" / "part-0.parquet"))
    assert not [p for p in fs.find(root) if "normcli-tmp" in p]


def test_a_memory_csv_glob_and_a_bad_part_leaves_no_output(tmp_path, memory):
    fs, root = memory
    fs.pipe(f"{root}/exports/2026-01-01.csv", b"price,qty\n10.5,1\n12.0,2\n")
    fs.pipe(f"{root}/exports/2026-01-02.csv", b"price,qty\n11.0,3\n9.5,4\n")
    r = invoke("fit", f"memory://{root}/exports/*.csv", "-m", "minmax", "-o", "s.json", cwd=tmp_path)
    assert r.code == 0, r.err
    assert fitted(tmp_path / "s.json")["price"] == {"min": 9.5, "max": 12.0}
    fs.pipe(f"{root}/exports/2026-01-03.csv", b"price,qty\ncheap,5\n")
    r = invoke("transform", f"memory://{root}/exports/", "-s", "s.json", "-o", f"memory://{root}/out/",
               cwd=tmp_path)  # fmt: skip
    assert_clean_error(r, 1, "2026-01-03.csv", "'price'")
    assert not fs.exists(f"{root}/out")
    assert sorted(fs.ls(root, detail=False)) == [f"{root}/exports"]  # no temporary folder left


@pytest.mark.skipif(importlib.util.find_spec("adlfs") is not None, reason="adlfs is installed here")
def test_a_missing_filesystem_package_is_one_line_naming_it(tmp_path):
    lake(tmp_path / "lake")
    r = run("fit", "abfs://container/lake/", "-m", "zscore", "-o", "s.json", cwd=tmp_path)
    assert_clean_error(r, 2, "abfs://container/lake/", "pip install adlfs")
    r = run("fit", "lake", "-m", "zscore", "-o", "s3://bucket/scaler.json", cwd=tmp_path)
    assert_clean_error(r, 2, "s3://bucket/scaler.json", "pip install s3fs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


def test_single_outputs_and_the_scaler_by_url(tmp_path, memory):
    # a scaler, --stats-json, --plot and a transform's one output file go to any filesystem
    # (written locally, uploaded whole on success); -s reads a scaler from one
    fs, root = memory
    lake(tmp_path / "lake")
    url = f"memory://{root}"
    r = invoke("fit", "lake", "-m", "zscore", "-o", f"{url}/s.json", "--stats-json", f"{url}/fit.json", "-q",
               cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert run("fit", "lake", "-m", "zscore", "-o", "local.json", "-q", cwd=tmp_path).code == 0
    assert fs.cat(f"{root}/s.json") == (tmp_path / "local.json").read_bytes()
    assert json.loads(fs.cat(f"{root}/fit.json"))["columns"]["price"]["before"]["count"] > 0
    r = invoke("transform", "lake", "-s", f"{url}/s.json", "-o", f"{url}/out.parquet", "--plot", f"{url}/t.svg", "-q",
               cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert run("transform", "lake", "-s", "local.json", "-o", "out.parquet", "-q", cwd=tmp_path).code == 0
    assert fs.cat(f"{root}/out.parquet") == (tmp_path / "out.parquet").read_bytes()
    assert fs.cat(f"{root}/t.svg").startswith(b"<?xml")
    leftovers = list(tmp_path.glob(".*normcli-tmp")) + list(Path(tempfile.gettempdir()).glob(".normcli-*normcli-tmp"))
    assert not leftovers


def test_a_failed_command_uploads_nothing_and_a_missing_scaler_url_is_named(tmp_path, memory):
    fs, root = memory
    lake(tmp_path / "lake")
    url = f"memory://{root}"
    r = invoke("fit", "lake", "-m", "zscore", "-o", f"{url}/s.json", "--stats-json", "no/such/folder/x.json",
               cwd=tmp_path)  # fmt: skip
    assert_clean_error(r, 2, "no/such/folder")
    assert not fs.exists(f"{root}/s.json")
    r = invoke("transform", "lake", "-s", f"{url}/nope.json", "-o", "out.csv", cwd=tmp_path)
    assert_clean_error(r, 1, f"{url}/nope.json", "no such file")
    assert not (tmp_path / "out.csv").exists()
