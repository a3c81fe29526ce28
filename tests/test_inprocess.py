"""Most tests run `normcli` in the test process (conftest.run -> inprocess.invoke): that is
faithful only if `normcli.cli.main` leaves the process as it found it, as a program that
embeds it expects (the console script owns the process-wide settings, `normcli.cli.run`)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import normcli.cli

from conftest import SAMPLE, run
from inprocess import invoke

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE]


def process_state() -> dict[str, object]:
    """What one run of main() could change for the program around it."""
    return {
        "cwd": os.getcwd(),
        "environment": {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},
        "signal handlers": {signum: signal.getsignal(signum) for signum in SIGNALS},
        "warning filters": list(warnings.filters),
        "showwarning": warnings.showwarning,
        "standard streams": (sys.stdin, sys.stdout, sys.stderr),
        "numpy floating-point errors": np.geterr(),
        "logging": (logging.root.level, list(logging.root.handlers)),
        "excepthook": sys.excepthook,
        # the pool of the activation norms is kept on purpose, for the next call
        "threads": sorted(t.name for t in threading.enumerate() if not t.name.startswith("normcli-norm")),
    }


def commands(folder: Path) -> list[tuple[str, ...]]:
    """Successes, warnings, user mistakes and failures of each kind of command."""
    acts = np.random.default_rng(0).random((2, 6, 3, 3)).astype(np.float32)
    np.save(folder / "acts.npy", acts)
    (folder / "huge.csv").write_text("a,b\n1e300,1\n2,2\n")
    (folder / "bad.csv").write_text("a,b\n1,2\n3\n")
    houses = str(SAMPLE / "houses.csv")
    return [
        ("fit", houses, "-m", "zscore", "-o", "s.json"),
        ("transform", houses, "-s", "s.json", "-o", "out.parquet", "--stats-json", "stats.json"),
        ("inverse", "out.parquet", "-s", "s.json", "-o", "back.csv"),
        ("stats", houses, "--json"),
        ("fit", "huge.csv", "-m", "minmax", "-o", "m.json"),
        ("transform", "huge.csv", "-s", "m.json", "--dtype", "float32"),  # a warning of ours
        ("fit", "bad.csv", "-m", "zscore", "-o", "bad.json"),  # bad data
        ("fit", houses, "-m", "rank"),  # bad usage
        ("lrn", "acts.npy", "--size", "3", "-o", "lrn.npy", "--plot", "lrn.png"),
        ("norm", "acts.npy", "--kind", "batch", "-o", "bn.npy"),
        ("transform", "missing.csv", "-s", "s.json"),
    ]


def test_main_leaves_the_process_as_it_found_it(tmp_path):
    import polars  # noqa: F401 - sets _RJEM_MALLOC_CONF when first imported: the library's, not ours

    before = process_state()
    codes = [invoke(*argv, cwd=tmp_path).code for argv in commands(tmp_path)]
    assert codes == [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 1]
    after = process_state()
    assert after == before, {key: (before[key], after[key]) for key in before if before[key] != after[key]}


def test_a_library_warning_is_one_line_on_stderr_as_from_the_console_script(monkeypatch):
    """In process as in the real process, whatever filters pytest has set for the test."""

    def warn(**kwargs: object) -> int:
        warnings.warn("a library's warning", RuntimeWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(normcli.cli.cli, "main", warn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what `pytest -W error` would set
        r = invoke("stats", "x.csv")
    assert (r.code, r.err) == (0, "warning: a library's warning\n")


@pytest.mark.process
def test_a_test_marked_process_runs_the_console_script(tmp_path):
    """`-o /dev/stdout` is this process's stdout: the captured one only in a real process."""
    (tmp_path / "a.csv").write_text("a\n1\n2\n")
    r = run("fit", "a.csv", "-m", "zscore", "-q", "-o", "/dev/stdout", cwd=tmp_path)
    assert r.code == 0, r.err
    assert json.loads(r.out)["columns"][0]["name"] == "a"


@pytest.mark.cluster
def test_the_dask_engine_leaves_the_environment_as_it_found_it(tmp_path):
    """Dask's nanny sets OMP_NUM_THREADS=1 (and more) in the environment of the process that
    starts a local cluster; left there, it would change how the host program reads CSV files."""
    pytest.importorskip("distributed")
    for day in (1, 2):
        (tmp_path / "lake" / f"day={day}").mkdir(parents=True)
        (tmp_path / "lake" / f"day={day}" / "part-0.csv").write_text(f"price\n{day}\n{day * 3}\n")
    before = dict(os.environ)
    r = invoke("fit", "lake", "-m", "zscore", "-o", "s.json", "-q", "--engine", "dask", "--workers", "1", cwd=tmp_path)
    assert r.code == 0, r.err
    assert dict(os.environ) == before
