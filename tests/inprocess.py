"""`normcli` run inside the test process, for tests of option parsing, messages and files.

It calls the same `normcli.cli.main` as the console script, with stdin, stdout and stderr
swapped for buffers by Click's CliRunner, and saves a process start (most of a short
command's time). What the console script (`normcli.cli.run`) sets up around `main` for the
whole process is set up here for the call and put back after it: Python's default warning
filters and normcli's one-line `warning:` display. Signals, pipes, closed streams and atomic
files under a kill are the process's business: their tests run the real `normcli`
(conftest.run_process, or conftest.run in a test marked `process`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

from click.testing import CliRunner

from normcli.cli import _show_warning, main

from conftest import Run

# What `python` starts with (https://docs.python.org/3/library/warnings.html#default-warning-filter),
# not what pytest sets for the test: a warning a user would see must reach stderr here too.
_PYTHON_DEFAULT_FILTERS = [
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
]


@contextlib.contextmanager
def _warnings_as_the_console_script_shows_them():
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, category, module in reversed(_PYTHON_DEFAULT_FILTERS):
            warnings.filterwarnings(action, category=category, module=module)
        warnings.showwarning = _show_warning
        yield


def invoke(*args: str | os.PathLike[str], stdin: bytes | None = None, cwd: Path | None = None) -> Run:
    """Run `normcli ARGS` in process; the result reads like conftest.run_process's."""
    runner = CliRunner()
    chdir = contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext()
    with (
        chdir,
        runner.isolation(input=stdin, env={"COLUMNS": "200"}) as (out, err, _),
        _warnings_as_the_console_script_shows_them(),
    ):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            raise AssertionError("normcli.cli.main returned instead of exiting")
        finally:  # as the console script does before it ends the process
            sys.stdout.flush()
            sys.stderr.flush()
    return Run(code, out.getvalue(), err.getvalue().decode())
