"""`normcli` run inside the test process, for tests of option parsing and messages.

It calls the same `normcli.cli.main` as the console script, with stdin, stdout and stderr
swapped for buffers by Click's CliRunner, and saves a process start (most of a short
command's time). Signals, pipes, closed streams and atomic files are the console script's
business (`run`): their tests keep running the real `normcli` (conftest.run).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from click.testing import CliRunner

from normcli.cli import main

from conftest import Run


def invoke(*args: str | os.PathLike[str], stdin: bytes | None = None, cwd: Path | None = None) -> Run:
    """Run `normcli ARGS` in process; the result reads like conftest.run's."""
    runner = CliRunner()
    chdir = contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext()
    with chdir, runner.isolation(input=stdin, env={"COLUMNS": "200"}) as (out, err, _):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            raise AssertionError("normcli.cli.main returned instead of exiting")
    return Run(code, out.getvalue(), err.getvalue().decode())
