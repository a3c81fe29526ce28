"""What the commands of the command line share: the input options (format, axis, CSV
dialect), the progress bar, and checks of the paths they are given.

`normcli.cli_fit` (fit, merge), `normcli.cli_apply` (transform, inverse), `normcli.cli_describe`
(stats, show), `normcli.cli_tensor` (lrn) and `normcli.cli_norm` (norm, bn-stats) use them, as
they use the parameter-to-flag names (FLAGS) and the output checks here, so they live apart
from all of them (the commands are registered on the group by `normcli.cli`).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from normcli.errors import DataError, UsageError
from normcli.untrusted import visible

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn, TaskID

    from normcli.io.dialect import DialectOptions
    from normcli.methods import Counters
    from normcli.stats import ColumnStats

F = TypeVar("F", bound=Callable[..., Any])

STDIO = "-"
FORMAT_CHOICES = ("csv", "tsv", "parquet", "pq", "npy")

# The core names parameters (as the Python API spells them); only here do they become flags.
FLAGS = {
    # fit: which columns, which method, the methods' options
    "columns": "--columns",
    "exclude": "--exclude",
    "method": "-m",
    "methods": "--method",
    "range": "--range",
    "clip": "--clip",
    "ddof": "--ddof",
    "base": "--base",
    "offset": "--log-offset",
    "normalize": "--log-normalize",
    "invalid": "--invalid",
    "quantile_range": "--quantile-range",
    "with_centering": "--no-center",
    "with_scaling": "--no-scale",
    "unit_variance": "--unit-variance",
    "n_quantiles": "--n-quantiles",
    "output_distribution": "--output-distribution",
    "standardize": "--no-standardize",
    "memory": "--memory",
    # lrn
    "convention": "--convention",
    "region": "--region",
    "layout": "--layout",
    "channel_axis": "--channel-axis",
    "size": "--size",
    "depth_radius": "--depth-radius",
    "alpha": "--alpha",
    "beta": "--beta",
    "bias": "--bias",
    # norm and bn-stats
    "kind": "--kind",
    "eps": "--eps",
    "groups": "--groups",
    "normalized_dims": "--normalized-dims",
    "stats": "--stats",
    "batch_size": "--batch-size",
    "momentum": "--momentum",
    # the input and the output
    "axis": "--axis",
    "dtype": "--dtype",
    # datasets and their engines
    "overwrite": "--overwrite",
    "engine": "--engine",
    "scheduler": "--scheduler",
    "workers": "--workers",
    # check: the drift thresholds
    "max_psi": "--max-psi",
    "max_ks": "--max-ks",
    "max_null_increase": "--max-null-increase",
    # the figure of fit, transform, inverse, stats, lrn and norm
    "plot": "--plot",
}


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


def _scaler_dialect(scaler: Any, scaler_path: str) -> DialectOptions:
    """The CSV options the scaler was fitted with, checked as if given on the command line."""
    from normcli.io.dialect import DialectOptions

    try:
        return DialectOptions.from_dict(scaler.dialect)
    except ValueError as exc:
        raise DataError(f"scaler file {scaler_path}: 'dialect' {exc}") from None


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


def _input_paths(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> str | tuple[str, ...]:
    """INPUT...: one file (or '-') stays a path; several paths, a glob or a directory are a
    dataset (a tuple of the paths as given, expanded by normcli.cli_dataset)."""
    from normcli.io.dataset import is_dataset_argument

    return tuple(value) if is_dataset_argument(value) else value[0]


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


def _stdout_aliases(output: str, stats_json: str | None) -> tuple[str, str | None]:
    """-o /dev/stdout (and /dev/fd/1) is stdout: written as a stream, never seeked or renamed."""
    from normcli.io.atomic import stdout_alias

    return stdout_alias(output), stdout_alias(stats_json) if stats_json else stats_json


def _write_text(output: str, text: str) -> None:
    from normcli.io import open_output

    with open_output(output) as fh:
        fh.write(text.encode())


def _show_stats(
    label: str,
    profiles: dict[str, Any],
    ddof: int | None,
    out_format: str,
    hist: bool | None,
    plot_path: str | None,
    notes: Sequence[str] = (),
) -> None:
    """`stats`' output of the column profiles (of one file or a dataset): the table or JSON,
    the reader's `notes` as warnings, and with `plot_path` the figure of each numeric
    column's distribution."""
    summaries = {name: p.summary(ddof) if p.kind == "number" else p.summary() for name, p in profiles.items()}
    _print_stats(label, summaries, out_format, hist)
    if notes:
        from normcli import report

        con = report.console()
        for note in notes:
            report.warn(con, note)
    if plot_path:
        from normcli.plot import table_panels

        numeric = {n: p for n, p in profiles.items() if p.kind == "number"}
        before = {n: p.stats for n, p in numeric.items()}
        histograms = {n: {"before": summaries[n]["histogram"]} for n in numeric}
        _write_plot(plot_path, f"stats: {label}", table_panels(before, None, histograms))


def _report(
    quiet: bool,
    stats_json_path: str | None,
    command: str,
    source: str,
    rows: int | None,
    before: dict[str, ColumnStats],
    after: dict[str, ColumnStats],
    methods: dict[str, str],
    counters: dict[str, Counters] | None,
    warnings: list[str],
    mode: str | None = None,
    histograms: dict[str, dict[str, Any]] | None = None,
    hist: bool | None = None,
    skipped: Sequence[str] = (),
) -> None:
    if quiet and not stats_json_path:
        return  # without importing rich, which -q runs need not pay for
    from normcli import report

    if stats_json_path:
        data = report.before_after_json(command, source, rows, before, after, methods, counters, histograms)
        if skipped:  # columns left out because the head held no value to type them by
            data["skipped"] = [{"column": n, "reason": "empty in the first MiB"} for n in skipped]
        _write_text(stats_json_path, report.dumps(data))
    if quiet:
        return
    con = report.wide_console()
    mode = mode or report.default_report(len(before))
    title = f"{command}: {source}"
    if mode == "full":
        grid = report.before_after_grid(title, before, after, methods)
        if histograms is not None and hist is not False:
            with_hist = report.before_after_grid(title, before, after, methods, histograms)
            if hist or report.hist_fits(with_hist, con.width):
                grid = with_hist
        con.print(report.layout(grid, con))
    elif mode == "summary":
        con.print(report.layout(report.summary_grid(title, before, after, methods, warnings), con))
    for w in warnings:
        report.warn(con, w)


def _print_stats(source: str, summaries: dict[str, dict[str, Any]], out_format: str, hist: bool | None = None) -> None:
    from normcli import report

    if out_format == "json":
        sys.stdout.write(report.dumps(summaries))
    elif out_format in ("csv", "tsv"):
        import csv

        writer = csv.writer(sys.stdout, delimiter="," if out_format == "csv" else "\t", lineterminator="\n")
        writer.writerow(report.STATS_FIELDS)
        for row in report.stats_rows(summaries):
            writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    else:
        con = report.wide_console(sys.stdout)
        grids = report.stats_grids(f"stats: {source}", summaries, hist=hist is not False)
        if hist is None and grids and not report.hist_fits(grids[0], con.width):
            grids = report.stats_grids(f"stats: {source}", summaries)
        for grid in grids:
            con.print(report.layout(grid, con))
        note = report.quantile_note(summaries)
        if note:
            from rich.text import Text

            report.console().print(Text(note))


def _all_outputs_or_none(command: F) -> F:
    """Commit every file the command writes (data, scaler, --stats-json) together when it has
    succeeded, report included; if anything fails, every old file stays as it was."""

    @functools.wraps(command)
    def run_staged(*args: Any, **kwargs: Any) -> Any:
        from normcli.io.atomic import staged_outputs

        with staged_outputs():
            return command(*args, **kwargs)

    return run_staged  # type: ignore[return-value]


def _report_choice(f: F) -> F:
    return click.option(
        "--report",
        "report_mode",
        type=click.Choice(["full", "summary", "none"]),
        help="The table on stderr: full (before/after per column), summary (one line per column: mean and std "
        "before -> after, warnings), none [default: full; summary from 100 columns].",
    )(f)


def _report_options(f: F) -> F:
    f = click.option(
        "--stats-json", type=click.Path(dir_okay=False), help="Also write the before/after statistics as JSON to FILE."
    )(f)
    f = click.option("-q", "--quiet", is_flag=True, help="Print no report or warnings on stderr.")(f)
    return f


def _check_binary_output(output: str, fmt: str) -> None:
    """Binary data never goes to a terminal (as gzip refuses), and compression suffixes
    apply to text output only."""
    from normcli.io.formats import compression_suffix

    name = {"parquet": "Parquet", "npy": ".npy"}.get(fmt)
    if name is None:
        return
    codec = compression_suffix(output)[1]
    if codec:
        raise UsageError(f"-o {output}: {name} output is not compressed by its name; drop the {codec} suffix")
    if _is_terminal(output):
        raise UsageError(f"refusing to write binary {name} to a terminal; use -o FILE or redirect")


def _is_terminal(output: str) -> bool:
    if output == STDIO:
        return sys.stdout is not None and sys.stdout.isatty()
    try:
        fd = os.open(output, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False  # not there yet (a file to create), or not writable: the writer says so
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)
