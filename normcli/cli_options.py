"""What the commands of the command line share: the input options (format, axis, CSV
dialect), the progress bar, and checks of the paths they are given.

Both `normcli.cli` and `normcli.cli_describe` (stats, show) use them, so they live apart
from either (the commands are registered on the group by `normcli.cli`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from normcli.errors import DataError, UsageError
from normcli.untrusted import visible

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn, TaskID

    from normcli.io.dialect import DialectOptions

F = TypeVar("F", bound=Callable[..., Any])

STDIO = "-"
FORMAT_CHOICES = ("csv", "tsv", "parquet", "pq", "npy")


_DIALECT = "normcli.dialect"  # where the CSV options are kept in the click context


def _dialect_option(*decls: str, parse: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """A CSV dialect option: checked by the parser of that name in normcli.io.dialect, and
    kept in the click context (read by `_dialect_options`), not passed to the command."""

    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        if parse is not None:
            from normcli.io import dialect

            try:
                value = getattr(dialect, parse)(value)
            except ValueError as exc:
                raise UsageError(f"{max(param.opts, key=len)}: {exc}") from None
        ctx.meta.setdefault(_DIALECT, {})[param.name] = value

    return click.option(*decls, expose_value=False, callback=store, **kwargs)


def _dialect_options() -> DialectOptions:
    """The CSV dialect options given on the command line (a DialectOptions)."""
    from normcli.io.dialect import DialectOptions

    return DialectOptions(**click.get_current_context().meta.get(_DIALECT, {}))


def _input_options(f: F) -> F:
    options = [
        _dialect_option(
            "-d",
            "--delimiter",
            parse="parse_delimiter",
            metavar="C",
            help="CSV field delimiter: one character, '\\t' for tab, 'spaces' for runs of spaces "
            "[default: sniffed from , ; tab | spaces].",
        ),
        _dialect_option(
            "--header/--no-header",
            "header",
            default=None,
            help="Whether the first CSV row holds the column names; without one, columns are named 0, 1, ... "
            "(or --names).",
        ),
        _dialect_option(
            "--names", parse="parse_names", metavar="A,B,...", help="CSV column names (replace the header)."
        ),
        _dialect_option(
            "--na-values",
            parse="parse_na_values",
            metavar="TOKENS",
            help="More comma-separated CSV tokens for a missing value [always: empty, NA, N/A, NaN, null, None, ?].",
        ),
        _dialect_option(
            "--encoding",
            parse="parse_encoding",
            metavar="ENC",
            help="Text encoding of a CSV input, e.g. latin-1, cp1252 [default: utf-8; UTF-16 by its BOM].",
        ),
        _dialect_option(
            "--decimal",
            parse="parse_decimal",
            metavar="C",
            help="Decimal mark of CSV numbers, '.' or ',' [default: sniffed].",
        ),
        _dialect_option("--comment", parse="parse_comment", metavar="C", help="Skip CSV lines that start with C."),
        _dialect_option(
            "--skip-rows",
            type=click.IntRange(min=0),
            metavar="N",
            help="Skip N lines before the CSV header (after comment lines are dropped).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    f = click.option("--axis", type=int, help="Feature axis of an N-D .npy array (statistics reduce over the others).")(
        f
    )
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMAT_CHOICES, case_sensitive=False),
        help="Input format when the extension does not say (stdin: csv).",
    )(f)
    return f


def _hist_option(f: F) -> F:
    return click.option(
        "--hist/--no-hist",
        "hist",
        default=None,
        help="A terminal histogram of each column before and after in the table [default: when the terminal is "
        "wide enough]; --stats-json always has the bin edges and counts.",
    )(f)


def _plot_option(f: F) -> F:
    return click.option(
        "--plot",
        "plot_path",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Also draw the distributions before and after to FILE: .png, .svg, .pdf (pip install "
        '"normcli[plot]") or .html (self-contained).',
    )(f)


def _check_plot(plot_path: str | None, inputs: tuple[str, ...], others: tuple[tuple[str, str], ...]) -> None:
    """Fail before any work when --plot names a format we cannot draw or a path we must not write."""
    if plot_path:
        from normcli.io import check_output_path
        from normcli.plot import check_plot_path

        check_plot_path(plot_path)
        check_output_path(plot_path, inputs, "--plot", others)


def _write_plot(plot_path: str, title: str, panels: list[Any], channels: Any = None) -> None:
    from normcli.io import open_output
    from normcli.plot import render

    data = render(plot_path, title, panels, channels)
    with open_output(plot_path) as fh:
        fh.write(data)


def _check_not_directory(path: str, command: str) -> None:
    if path != STDIO and os.path.isdir(path):
        raise DataError(f"{path} is a directory; {command} reads one file (name a file inside it)")


class _Progress:
    """A rich progress bar on stderr (bytes, rate, time left) for work that has run for
    over two seconds; only when stderr is a terminal, never with -q."""

    DELAY = 2.0

    def __init__(self, quiet: bool) -> None:
        import time

        self._enabled = not quiet and sys.stderr.isatty()
        self._start = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Progress:
        return self

    def update(self, label: str, done: int, total: int | None) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            import time

            if time.monotonic() - self._start < self.DELAY:
                return
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            from normcli.report import console

            columns: list[str | ProgressColumn] = [
                TextColumn("{task.description}", markup=False),  # a path: text, never markup
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            ]
            self._bar = Progress(*columns, console=console(), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(visible(label), total=total)
        if self._task is not None:
            self._bar.update(self._task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
