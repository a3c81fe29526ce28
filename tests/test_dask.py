"""--engine dask: the same fit and transform as the local engine, one task per part.

These start real clusters (processes on 127.0.0.1), a few seconds each: marked `cluster`,
few, and run in CI (dask[distributed] is in the test extra).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import NORMCLI, assert_clean_error, run

pytest.importorskip("distributed")
# process: a local cluster spawns workers that start the way the program that started it did
pytestmark = [pytest.mark.cluster, pytest.mark.process]

BIN = Path(sys.executable).parent


def lake(root: Path, parts: int = 5, seed: int = 3) -> None:
    """Daily Parquet parts of sensor readings under a hive folder, prices near 1e9."""
    rng = np.random.default_rng(seed)
    for i in range(parts):
        folder = root / f"day={i + 1}"
        folder.mkdir(parents=True)
        n = int(rng.integers(50, 300))
        table = pa.table({"price": rng.normal(1e9, 7.0, n), "load": rng.lognormal(0, 2, n), "site": ["a"] * n})
        pq.write_table(table, folder / "part-0.parquet")


def fitted(path: Path) -> dict:
    return {c["name"]: c["fitted"] for c in json.loads(path.read_text())["columns"]}


def test_a_local_cluster_fits_and_transforms_as_the_local_engine(tmp_path):
    lake(tmp_path / "lake")
    fit = ("fit", "lake", "-m", "zscore", "-m", "load=log", "-q")
    assert run(*fit, "-o", "local.json", cwd=tmp_path).code == 0
    r = run(*fit, "-o", "dask.json", "--engine", "dask", "--workers", "2", cwd=tmp_path)
    assert r.code == 0, r.err
    local, dask = fitted(tmp_path / "local.json"), fitted(tmp_path / "dask.json")
    assert local.keys() == dask.keys() == {"price", "load"}
    for name in local:
        for key, value in local[name].items():
            assert dask[name][key] == pytest.approx(value, rel=1e-12), (name, key)

    r = run("transform", "lake", "-s", "local.json", "-o", "a/", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("transform", "lake", "-s", "local.json", "-o", "b/", "--engine", "dask", "--workers", "2", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "read 5 parts" in r.err
    for i in range(5):
        a = pq.read_table(tmp_path / "a" / f"day={i + 1}" / "part-0.parquet")
        b = pq.read_table(tmp_path / "b" / f"day={i + 1}" / "part-0.parquet")
        assert a.equals(b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "dask.json", "lake", "local.json"]


def test_a_bad_part_stops_the_run_naming_it_and_writes_nothing(tmp_path):
    lake(tmp_path / "lake")
    assert run("fit", "lake", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    bad = tmp_path / "lake" / "day=3" / "part-0.parquet"
    pq.write_table(pa.table({"price": ["cheap"], "load": [1.0], "site": ["a"]}), bad)
    r = run("transform", "lake", "-s", "s.json", "-o", "out/", "--engine", "dask", "--workers", "2", cwd=tmp_path)
    assert_clean_error(r, 1, "day=3/part-0.parquet", "'price'")
    r = run("fit", "lake", "-m", "zscore", "-o", "again.json", "--engine", "dask", "--workers", "2", cwd=tmp_path)
    assert_clean_error(r, 1, "day=3/part-0.parquet", "'price'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "s.json"]


def test_dask_missing_is_named_with_the_extra_to_install(tmp_path):
    lake(tmp_path / "lake", parts=1)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "distributed.py").write_text("raise ImportError('No module named distributed')\n")
    proc = subprocess.run(
        [str(NORMCLI), "fit", "lake", "-m", "zscore", "-o", "s.json", "--engine", "dask", "--workers", "1"],
        cwd=tmp_path,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(shim)},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.decode().strip() == 'error: the dask engine needs dask and distributed: pip install "normcli[dask]"'
    )
    assert not (tmp_path / "s.json").exists()


@pytest.fixture
def cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes started with their CLIs, on 127.0.0.1."""
    from distributed import Client

    info = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    procs = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(info)]
            + common,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [str(BIN / "dask"), "worker", "--scheduler-file", str(info), "--host", "127.0.0.1"]
                    + ["--nworkers", "1", "--nthreads", "1", *common],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(scheduler_file=str(info), timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            yield client.scheduler.address, client
    finally:
        # the workers first: a worker whose scheduler has gone waits for it to come back
        for p in [*procs[1:], procs[0]]:
            p.terminate()
            try:
                p.wait(timeout=10)  # a nanny whose worker was killed may linger: then kill it
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_cluster_started_with_the_dask_cli(tmp_path, cluster):
    address, _ = cluster
    lake(tmp_path / "lake")
    assert run("fit", "lake", "-m", "zscore", "-o", "local.json", "-q", cwd=tmp_path).code == 0
    r = run("fit", "lake", "-m", "zscore", "-o", "dask.json", "--engine", "dask", "--scheduler", address, cwd=tmp_path)
    assert r.code == 0, r.err
    local, dask = fitted(tmp_path / "local.json"), fitted(tmp_path / "dask.json")
    for name in local:
        for key, value in local[name].items():
            assert dask[name][key] == pytest.approx(value, rel=1e-12)
    # the address may come from the environment, as Dask's own tools read it
    proc = subprocess.run(
        [str(NORMCLI), "transform", "lake", "-s", "local.json", "-o", "out/", "--engine", "dask", "-q"],
        cwd=tmp_path,
        capture_output=True,
        env={**os.environ, "DASK_SCHEDULER_ADDRESS": address},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "out").rglob("*.parquet"))) == 5


def _holders(path: Path) -> list[int]:
    """The processes (other than this one) with `path` open."""
    target = os.path.realpath(path)
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    found.append(int(pid))
                    break
            except OSError:
                continue
    return found


def _wait_for(condition, what: str, timeout: float = 90.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the worker through /proc")
def test_a_worker_killed_mid_task_is_retried_and_the_result_unchanged(tmp_path, cluster):
    """The second part is a named pipe: its task blocks reading it, so the worker running it
    is known (it holds the pipe open) and is killed mid-task; Dask runs the task again on a
    worker, the test then feeds the pipe, and the scaler equals the local engine's."""
    import signal

    address, _ = cluster
    rng = np.random.default_rng(9)
    first = "x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in rng.normal(1e9, 3, (200, 2)))
    second = "x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in rng.normal(1e9, 5, (300, 2)))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.csv").write_text(first)
    (tmp_path / "plain" / "b.csv").write_text(second)
    assert run("fit", "plain", "-m", "zscore", "-o", "local.json", "-q", cwd=tmp_path).code == 0

    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "a.csv").write_text(first)
    pipe = tmp_path / "lake" / "b.csv"
    os.mkfifo(pipe)
    # held open read-write here, so a reader's open() returns and it blocks in read() instead
    keep = os.open(pipe, os.O_RDWR)
    fit = subprocess.Popen(
        [str(NORMCLI), "fit", "lake", "-m", "zscore", "-o", "dask.json", "-q", "--engine", "dask"]
        + ["--scheduler", address],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        (victim,) = _wait_for(lambda: _holders(pipe), "a worker reading the pipe")
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: [p for p in _holders(pipe) if p != victim], "the task to run again")
        with os.fdopen(os.open(pipe, os.O_WRONLY), "w") as feed:
            feed.write(second)
        os.close(keep)
        keep = -1
        err = fit.communicate(timeout=120)[1].decode()
    finally:
        if keep >= 0:
            os.close(keep)
        if fit.poll() is None:
            fit.kill()
    assert fit.returncode == 0, err
    local, dask = fitted(tmp_path / "local.json"), fitted(tmp_path / "dask.json")
    for name in local:
        for key, value in local[name].items():
            assert dask[name][key] == pytest.approx(value, rel=1e-12), (name, key)


class _Workers:
    """A client whose workers answer `run` with these normcli versions (or fail to)."""

    def __init__(self, versions: dict[str, str] | Exception) -> None:
        self.versions = versions

    def run(self, func):
        if isinstance(self.versions, Exception):
            raise self.versions
        return self.versions


def test_workers_of_another_normcli_version_are_refused():
    from normcli import DataError, __version__
    from normcli.engines.dask import check_versions

    check_versions(_Workers({"tcp://10.0.0.2:4000": __version__}), "tcp://10.0.0.1:8786")  # the same: fine
    with pytest.raises(DataError, match=r"worker tcp://10\.0\.0\.3:4000 runs normcli 0\.0\.1, this client"):
        check_versions(_Workers({"tcp://10.0.0.2:4000": __version__, "tcp://10.0.0.3:4000": "0.0.1"}), "here")
    with pytest.raises(DataError, match="cannot run normcli .No module named 'normcli'.; install normcli"):
        check_versions(_Workers(ModuleNotFoundError("No module named 'normcli'")), "tcp://10.0.0.1:8786")
    with pytest.raises(DataError, match="has no workers"):
        check_versions(_Workers({}), "tcp://10.0.0.1:8786")


def test_ctrl_c_cancels_the_run_and_leaves_nothing(tmp_path):
    """Interrupted while a task is reading (a named pipe part that never ends): exit 130, no
    output folder, no temporary folder, and the local cluster's workers are gone."""
    import signal

    lake(tmp_path / "lake", parts=2)
    assert run("fit", "lake", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    pipe = tmp_path / "lake" / "day=3" / "part-0.parquet"
    pipe.parent.mkdir()
    os.mkfifo(pipe)
    keep = os.open(pipe, os.O_RDWR)  # a writer that never writes: the task reading it waits
    try:
        proc = subprocess.Popen(
            [str(NORMCLI), "transform", "lake", "-s", "s.json", "-o", "out/", "--engine", "dask", "--workers", "1"],
            cwd=tmp_path,
            stderr=subprocess.PIPE,
        )
        try:
            (worker,) = _wait_for(lambda: _holders(pipe), "the task reading the pipe")
            proc.send_signal(signal.SIGINT)
            err = proc.communicate(timeout=120)[1].decode()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[0] == "error: interrupted", err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "s.json"]
        _wait_for(lambda: not os.path.exists(f"/proc/{worker}") or _holders(pipe) == [], "the worker to stop")
    finally:
        os.close(keep)
