"""Shared helpers: run the installed `normcli` as a user would, and write small inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the same examples every time, so a red build is reproducible and not a dice roll;
# local runs keep exploring new examples (and hypothesis keeps the failures it finds).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
NORMCLI = Path(sys.executable).parent / "normcli"


@dataclass
class Run:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()


def run(*args: str | os.PathLike, stdin: bytes | None = None, cwd: Path | None = None) -> Run:
    """`normcli ARGS`, as a shell would run it.

    In the test process by default (`inprocess.invoke`: the same `normcli.cli.main` with its
    streams swapped for buffers, without the process start that is most of a short command's
    time). It starts the installed console script (`run_process`) instead in a test marked
    `@pytest.mark.process` (signals, pipes, closed streams, terminals, stdin that is a real
    file), off the main thread (in-process runs swap sys.stdout and the working folder), and
    everywhere when NORMCLI_TEST_PROCESS=1 (to check that both ways give the same results)."""
    if _RUN_IN_PROCESS and threading.current_thread() is threading.main_thread():
        from inprocess import invoke

        return invoke(*args, stdin=stdin, cwd=cwd)
    return run_process(*args, stdin=stdin, cwd=cwd)


def run_process(
    *args: str | os.PathLike, stdin: bytes | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run the installed console script, as a shell would (`env`: its environment, when given;
    a thread that runs it beside in-process runs must give it, as those change os.environ)."""
    assert NORMCLI.exists(), f"normcli is not installed next to {sys.executable}; pip install -e .[test]"
    proc = subprocess.run(
        [str(NORMCLI), *map(str, args)],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=120,
        env=env if env is not None else {**os.environ, "COLUMNS": "200"},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr.decode())


ALL_IN_PROCESSES = os.environ.get("NORMCLI_TEST_PROCESS") == "1"
_RUN_IN_PROCESS = not ALL_IN_PROCESSES  # for the running test: set by pytest_runtest_setup


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture of the test is set up, module-scoped ones included.
    global _RUN_IN_PROCESS
    _RUN_IN_PROCESS = not ALL_IN_PROCESSES and item.get_closest_marker("process") is None


def assert_clean_error(r: Run, code: int, *fragments: str) -> None:
    """One `error:` line on stderr naming what is wrong; no traceback; nothing on stdout."""
    assert r.code == code, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("error: "), r.err
    assert "Traceback" not in r.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def write_csv(tmp_path):
    def write(text: str, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
