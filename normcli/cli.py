"""The command line's group and entry point: the `normcli` group, the process around it
(signals, a closed pipe, Ctrl-C) and `main`/`run`, which turn every error into one line and
an exit code. The commands live in their own modules (`cli_fit`: fit and merge; `cli_apply`:
transform and inverse; `cli_describe`, `cli_check`, `cli_tensor`, `cli_norm`) and are
registered here.

Heavy modules (NumPy, pyarrow, pandas, rich) are imported inside the commands, so that
`normcli --help` and `normcli --version` start fast.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import warnings
from types import FrameType
from typing import Any, NoReturn, TextIO

import click

from normcli import cli_apply, cli_check, cli_describe, cli_fit, cli_norm, cli_tensor
from normcli._version import __version__
from normcli.cli_options import FLAGS
from normcli.errors import ExitCode, NormcliError
from normcli.untrusted import visible


class Terminated(BaseException):
    """SIGTERM, SIGHUP (the terminal or SSH session closed) or SIGQUIT (Ctrl-\\), raised where
    the process is so that partial output and scratch files are cleaned up."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def message(self) -> str:
        if self.signum == signal.SIGTERM:
            return "terminated"
        why = " (the terminal closed)" if self.signum == getattr(signal, "SIGHUP", None) else ""
        return f"terminated by {signal.Signals(self.signum).name}{why}"


class PipeClosed(Exception):
    """The reader of stdout went away (`| head`). Not an OSError, so Click lets it through."""


def is_broken_pipe(exc: OSError) -> bool:
    # polars raises OSError("Broken pipe (os error 32)") without setting errno
    return exc.errno == errno.EPIPE or "os error 32" in str(exc)


class Interrupted(Exception):
    """Ctrl-C, carried past Click (which would print a blank line for it)."""


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None
        except OSError as exc:
            if is_broken_pipe(exc):
                raise PipeClosed() from None
            raise


# --- the group -------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="normcli", message="%(prog)s %(version)s")
def cli() -> None:
    """Normalize tabular data and tensors: fit scalers, apply and undo them, and apply
    Local Response Normalization, with before/after statistics.

    \b
    normcli fit data.csv -m zscore -o scaler.json
    normcli transform data.csv -s scaler.json -o scaled.parquet
    cat new.csv | normcli transform - -s scaler.json | head
    normcli inverse scaled.parquet -s scaler.json -o restored.csv
    normcli stats data.csv
    normcli lrn acts.npy -o normed.npy --convention torch --size 5
    """


# --- methods (stats and show: cli_describe.py) ------------------------------------------------------------------------


@cli.command()
def methods() -> None:
    """List the scaling methods with their formulas and inverses."""
    from normcli.method_table import METHODS
    from normcli.report import console, methods_table

    console(sys.stdout).print(methods_table(METHODS, FLAGS))


# --- helpers ------------------------------------------------------------------------------------


# fit and merge, transform and inverse live in their own modules
cli.add_command(cli_fit.fit)
cli.add_command(cli_fit.merge)
cli.add_command(cli_apply.transform)
cli.add_command(cli_apply.inverse)
# stats, show and check live in their own modules
cli.add_command(cli_describe.stats)
cli.add_command(cli_describe.show)
cli.add_command(cli_check.check)
# lrn, norm and bn-stats too
cli.add_command(cli_tensor.lrn)
cli.add_command(cli_norm.norm)
cli.add_command(cli_norm.bn_stats)

# --- entry point -------------------------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    # the message quotes paths, names and values from the user: one line, nothing raw
    with contextlib.suppress(OSError, ValueError):  # stderr gone (a closed terminal): exit all the same
        sys.stderr.write(f"error: {visible(message)}\n")
        sys.stderr.flush()
    sys.exit(code)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A library's warning (NumPy's, say) as one `warning:` line, without source lines."""
    sys.stderr.write(f"warning: {visible(str(message))}\n")


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise Terminated(signum)


# Signals that end a process from a terminal or a session manager: handled like SIGTERM, so
# that temp files, scratch files and partial outputs are removed (exit 128 + the number).
ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGQUIT") if hasattr(signal, name))


def _install_signal_handlers() -> dict[int, Any]:
    """Handle the ending signals; returns the handlers they had, to put back."""
    previous: dict[int, Any] = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_sigterm)}
    for signum in ENDING_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_DFL:  # nohup's ignored SIGHUP stays ignored
            previous[signum] = signal.signal(signum, _on_sigterm)
    return previous


def _quiet_broken_pipe() -> NoReturn:
    # The reader of our stdout has gone (e.g. `| head`): stop quietly, and stop Python
    # from complaining when it flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    os._exit(0)


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI; every user mistake becomes one `error:` line and an exit code.

    It leaves the process alone (signal handlers, how warnings are shown): that is the
    console script's business (`run`), so `main` can also run inside another program."""
    try:
        code = cli.main(args=argv, prog_name="normcli", standalone_mode=False)
        sys.stdout.flush()
    except NormcliError as exc:
        _fail(exc.render(FLAGS), exc.exit_code)
    except click.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `normcli` (click >= 8.2): the help, as it is
            sys.stderr.write(exc.format_message().rstrip() + "\n")
            sys.exit(ExitCode.USAGE)
        message = " ".join(exc.format_message().split())
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None and exc.exit_code == 2 else ""
        _fail(message + hint, exc.exit_code)
    except (Interrupted, KeyboardInterrupt, click.exceptions.Abort):
        _fail("interrupted", ExitCode.INTERRUPTED)
    except Terminated as exc:
        _fail(exc.message, 128 + exc.signum)
    except PipeClosed:
        _quiet_broken_pipe()
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        _fail(f"cannot complete:{where} {exc.strerror or exc}", ExitCode.DATA)
    except MemoryError:
        _fail("out of memory", ExitCode.DATA)
    except Exception as exc:  # a bug of ours, not the user's: say so, in one line
        if os.environ.get("NORMCLI_DEBUG"):
            raise
        from normcli.validate import first_line

        first = first_line(exc) if str(exc).strip() else ""
        _fail(
            f"internal error, please report it: {type(exc).__name__}: {first} (NORMCLI_DEBUG=1 shows where)",
            ExitCode.DATA,
        )
    sys.exit(code or ExitCode.OK)


def run() -> NoReturn:
    """The console script: `main`, then leave without Python's interpreter shutdown.

    By the time `main` returns, every output file is closed and renamed and every message
    written. What shutdown would still do is only harmful: a reader thread stuck in a read of
    a silent pipe holds stdin's lock, and the IO threads of pyarrow's and polars' pools may
    still release Python objects, which during finalization ends in std::terminate (SIGABRT).
    So flush the standard streams and end the process here.

    It also owns the process-wide settings: SIGTERM is raised where the process is (so that
    partial output is cleaned up), and library warnings are shown as one `warning:` line.
    """
    _install_signal_handlers()
    warnings.showwarning = _show_warning
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:  # pragma: no cover - main always exits
        code = 0
    try:
        if sys.stdout is not None:  # None when started with stdout closed
            sys.stdout.flush()
    except BrokenPipeError:  # the reader of our stdout has gone: nothing to tell anyone
        pass
    except OSError as exc:  # a full disk behind `> file`, say
        sys.stderr.write(f"error: cannot complete: {exc.strerror or exc}\n")
        code = code or 1
    with contextlib.suppress(OSError, AttributeError):
        sys.stderr.flush()
    os._exit(code)
