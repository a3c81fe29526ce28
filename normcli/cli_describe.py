"""The commands that describe: `stats` (of a data file) and `show` (of a scaler file).

`normcli.cli` adds them to its group; the options they share with the other commands are
in `normcli.cli_options`.
"""

from __future__ import annotations

import sys

import click

from normcli.cli_dataset import check_engine, engine_options
from normcli.cli_options import (
    _check_not_directory,
    _check_plot,
    _dialect_options,
    _hist_option,
    _input_options,
    _input_paths,
    _plot_option,
    _Progress,
    _show_stats,
)
from normcli.errors import UsageError


@click.command()
@click.argument("input_path", metavar="INPUT...", nargs=-1, required=True, callback=_input_paths)
@click.option(
    "--columns",
    multiple=True,
    metavar="NAMES",
    help="Columns to describe: comma-separated names or globs ('temp_*'), repeatable; \\, is a comma inside a "
    "name [default: every column].",
)
@click.option("--exclude", multiple=True, metavar="NAMES", help="Columns to leave out (names or globs, as --columns).")
@click.option(
    "--ddof",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Delta degrees of freedom of the std: 1 is the sample std (pandas, R, csvstat), 0 the population one.",
)
@click.option(
    "--output-format",
    "out_format",
    type=click.Choice(["table", "csv", "tsv", "json"]),
    help="table (default), or the statistics themselves as csv, tsv or json, for pipes.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --output-format json.")
@_input_options
@engine_options
@_hist_option
@_plot_option
def stats(
    input_path: str,
    columns: tuple[str, ...],
    exclude: tuple[str, ...],
    ddof: int,
    out_format: str | None,
    as_json: bool,
    fmt: str | None,
    axis: int | None,
    hist: bool | None = None,
    plot_path: str | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
) -> None:
    """Describe each column of INPUT: count, nulls, mean, std (sample, ddof 1), min, quantiles
    (p1, p25, median, p75, p99) and max of numeric columns; count, nulls, distinct values and the
    most common one of text, date and boolean columns."""
    from normcli.io import open_reader
    from normcli.pipeline import profile_stream
    from normcli.selection import expand_columns

    if as_json:
        if out_format not in (None, "json"):
            raise UsageError(f"--json and --output-format {out_format} disagree; keep one")
        out_format = "json"
    check_engine(engine, scheduler, workers)
    # one file is a dataset of one part for a cluster engine
    paths = input_path if isinstance(input_path, tuple) else None if engine == "local" else (input_path,)
    if paths is not None:
        from normcli.cli_dataset import stats_dataset

        stats_dataset(
            paths,
            fmt=fmt,
            axis=axis,
            columns=columns,
            exclude=exclude,
            ddof=ddof,
            out_format=out_format or "table",
            hist=hist,
            plot_path=plot_path,
            engine=engine,
            scheduler=scheduler,
            workers=workers,
        )
        return
    _check_not_directory(input_path, "stats")
    _check_plot(plot_path, (input_path,), ())
    with (
        open_reader(input_path, fmt, axis=axis, dialect=_dialect_options()) as reader,
        _Progress(False) as progress,
    ):
        names = expand_columns(columns, reader.names, "--columns", reader.label)
        dropped = expand_columns(exclude, reader.names, "--exclude", reader.label) or ()
        result = profile_stream(reader, names, dropped, progress=progress.update)
    # with what the dialect sniffing guessed and the user may want to correct
    _show_stats(reader.label, result, ddof, out_format or "table", hist, plot_path, reader.notes)


@click.command()
@click.argument("scaler_path", metavar="SCALER.json")
@click.option(
    "--output-format",
    "out_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table, or the scaler as checked JSON.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --output-format json.")
def show(scaler_path, out_format, as_json) -> None:
    """Print what a scaler file holds: its columns, methods, options, fitted values and the
    statistics of the data it was fitted on."""
    from normcli import report
    from normcli.api import load

    scaler = load(scaler_path)
    if as_json or out_format == "json":
        sys.stdout.write(scaler.to_json())
        return
    from normcli.scaler import VERSION

    layout = scaler.layout
    shape = f"{layout.ndim}-D arrays, features on axis {layout.axis}" if layout.is_array else "a table"
    title = (
        f"scaler: {scaler_path} (format version {VERSION}, fitted on {shape} of "
        f"{len(scaler.input_columns)} column(s), {len(scaler.columns)} scaled)"
    )
    con = report.wide_console(sys.stdout)
    con.print(report.layout(report.scaler_grid(title, scaler), con))
