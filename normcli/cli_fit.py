"""fit and merge: the commands that write scaler JSON files.

fit fits a method per column of INPUT and saves the scaler (a dataset of several paths goes to
`normcli.cli_dataset`); `fit --apply` also transforms INPUT, through `normcli.cli_apply`.
merge combines scalers fitted on shards. The parsing of the method options (-m, --base,
--memory, ...) lives here beside them. `normcli.cli` registers both commands on its group.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from normcli.cli_apply import _run_apply
from normcli.cli_dataset import check_engine, engine_options
from normcli.cli_options import (
    FORMAT_CHOICES,
    STDIO,
    _all_outputs_or_none,
    _check_not_directory,
    _check_plot,
    _dialect_options,
    _hist_option,
    _input_options,
    _input_paths,
    _plot_option,
    _Progress,
    _report,
    _report_choice,
    _report_options,
    _stdout_aliases,
    _write_plot,
    _write_text,
)
from normcli.errors import UsageError

if TYPE_CHECKING:
    from normcli.io.reader_base import Reader
    from normcli.pipeline import FitResult


class _LogBase(click.ParamType):
    """A number, or `e` for the natural logarithm."""

    name = "base"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        if str(value).strip().lower() == "e":
            import math

            return math.e
        try:
            return float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number; give a base such as 10, 2 or e", param, ctx)


# --- fit -----------------------------------------------------------------------------------------


@click.command()
@click.argument("input_path", metavar="INPUT...", nargs=-1, required=True, callback=_input_paths)
@click.option(
    "-m",
    "--method",
    "methods",
    multiple=True,
    required=True,
    metavar="METHOD|COLUMN=METHOD",
    help="minmax, zscore, scale, maxabs, robust, quantile, yeo-johnson, box-cox, log, atan or reciprocal, "
    "for every selected column; COLUMN=METHOD (repeatable) sets one column's method (see `normcli methods`).",
)
@click.option(
    "-o", "--output", default=STDIO, show_default=True, help="Scaler JSON file ('-': stdout); with --apply, the data."
)
@click.option(
    "--columns",
    multiple=True,
    metavar="NAMES",
    help="Columns to scale: comma-separated names or globs ('temp_*'), repeatable; \\, is a comma inside a name "
    "[default: every numeric column].",
)
@click.option("--exclude", multiple=True, metavar="NAMES", help="Columns to leave as they are (names or globs).")
@click.option(
    "--range", "range_", nargs=2, type=float, metavar="LO HI", help="minmax: the output range [default: 0 1]."
)
@click.option("--clip", is_flag=True, help="minmax: clip values outside the fitted range at transform time.")
@click.option("--ddof", type=int, help="zscore, scale: delta degrees of freedom of the std [default: 0].")
@click.option(
    "--base", type=_LogBase(), metavar="B|e", help="log: the logarithm's base, a number > 1 or e [default: 10]."
)
@click.option("--log-offset", "offset", type=float, help="log: add this to x first, log(x + offset) [default: 0].")
@click.option("--log-normalize", "normalize", is_flag=True, help="log: divide by log(max), so [1, max] maps to [0, 1].")
@click.option(
    "--invalid",
    type=click.Choice(["error", "nan"]),
    default="error",
    show_default=True,
    help="What log (x <= 0), reciprocal (x = -1) and box-cox (x <= 0) do with values outside their domain.",
)
@click.option(
    "--quantile-range",
    nargs=2,
    type=float,
    metavar="LO HI",
    help="robust: the percentiles whose distance is the scale [default: 25 75].",
)
@click.option("--no-center", is_flag=True, help="robust: do not subtract the median.")
@click.option("--no-scale", is_flag=True, help="robust: do not divide by the quantile range.")
@click.option("--unit-variance", is_flag=True, help="robust: scale so that normal data gets variance 1.")
@click.option("--n-quantiles", type=int, help="quantile: how many quantiles to fit [default: 1000].")
@click.option(
    "--output-distribution", type=click.Choice(["uniform", "normal"]), help="quantile: the output [default: uniform]."
)
@click.option("--no-standardize", is_flag=True, help="yeo-johnson, box-cox: leave out the final standardization.")
@click.option(
    "--memory",
    metavar="SIZE",
    help="robust, quantile, power: memory for exact fits (e.g. 512M, 2G); beyond it a sketch or sample "
    "[default: 256M].",
)
@click.option("--apply", is_flag=True, help="Also transform INPUT with the fitted scaler: the data goes to -o.")
@click.option("-s", "--scaler", "scaler_path", help="With --apply: save the scaler to this JSON file.")
@click.option(
    "--output-format",
    type=click.Choice(FORMAT_CHOICES, case_sensitive=False),
    help="With --apply: the data's format [default: from -o's extension, else the input's].",
)
@_input_options
@_report_options
@_report_choice
@engine_options
@_hist_option
@_plot_option
@_all_outputs_or_none
def fit(
    input_path: str,
    methods: tuple[str, ...],
    output: str,
    columns: tuple[str, ...],
    exclude: tuple[str, ...],
    range_: tuple[float, float] | None,
    clip: bool,
    ddof: int | None,
    base: float | None,
    offset: float | None,
    normalize: bool,
    invalid: str,
    quantile_range: tuple[float, float] | None,
    no_center: bool,
    no_scale: bool,
    unit_variance: bool,
    n_quantiles: int | None,
    output_distribution: str | None,
    no_standardize: bool,
    memory: str | None,
    fmt: str | None,
    axis: int | None,
    quiet: bool,
    stats_json: str | None,
    report_mode: str | None,
    apply: bool,
    scaler_path: str | None,
    output_format: str | None,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    hist: bool | None = None,
    plot_path: str | None = None,
) -> None:
    """Fit per-column scalers on INPUT ('-': stdin) and save them as JSON; with --apply,
    also transform INPUT in the same command (-o: the data, -s: the scaler). Several paths,
    quoted globs or directories are fitted as one table (a dataset)."""
    from normcli.io import check_output_path

    output, stats_json = _stdout_aliases(output, stats_json)
    default, overrides = _parse_methods(methods)
    options = _method_options(range_=range_, clip=clip, ddof=ddof, base=base, offset=offset, normalize=normalize)
    options["invalid"] = invalid
    options.update(
        _method_options(
            quantile_range=quantile_range,
            unit_variance=unit_variance,
            n_quantiles=n_quantiles,
            output_distribution=output_distribution,
        )
    )
    for key, off in (("with_centering", no_center), ("with_scaling", no_scale), ("standardize", no_standardize)):
        if off:
            options[key] = False
    check_engine(engine, scheduler, workers)
    # one file is a dataset of one part for a cluster engine
    paths = input_path if isinstance(input_path, tuple) else None if engine == "local" else (input_path,)
    if paths is not None:
        if apply:
            raise UsageError("fit --apply reads one file; over a dataset, run fit, then transform")
        from normcli.cli_dataset import fit_dataset

        fit_dataset(
            paths, fmt=fmt, axis=axis, output=output, stats_json=stats_json, quiet=quiet,
            report_mode=report_mode, method=default, overrides=overrides, columns=columns, exclude=exclude,
            options=options, engine=engine, scheduler=scheduler, workers=workers, hist=hist, plot_path=plot_path,
        )  # fmt: skip
        return
    assert isinstance(input_path, str)  # a tuple is a dataset, fitted above
    _check_not_directory(input_path, "fit")
    if apply:
        _fit_apply(
            input_path=input_path,
            fmt=fmt,
            axis=axis,
            method=default,
            overrides=overrides,
            columns=columns,
            exclude=exclude,
            options=options,
            output=output,
            scaler_path=scaler_path,
            output_format=output_format,
            quiet=quiet,
            stats_json=stats_json,
            report_mode=report_mode,
            hist=hist,
            plot_path=plot_path,
            memory=_parse_size(memory),
        )
        return
    if scaler_path is not None or output_format is not None:
        flag = "-s" if scaler_path is not None else "--output-format"
        raise UsageError(f"{flag} is for fit --apply (which writes the data to -o); without --apply, -o is the scaler")
    check_output_path(output, (input_path,))
    if stats_json:
        check_output_path(stats_json, (input_path,), "--stats-json", (("-o", output),))
    _check_plot(plot_path, (input_path,), (("-o", output),) + ((("--stats-json", stats_json),) if stats_json else ()))
    reader, result, skipped = _fit_file(
        input_path,
        fmt=fmt,
        axis=axis,
        method=default,
        overrides=overrides,
        columns=columns,
        exclude=exclude,
        options=options,
        quiet=quiet,
        memory=_parse_size(memory),
    )
    _write_text(output, result.scaler.to_json())
    methods_by_col = {c.name: c.method for c in result.scaler.columns}
    result.warnings[:0] = reader.notes
    _report(
        quiet,
        stats_json,
        "fit",
        reader.label,
        result.rows,
        result.before,
        result.after,
        methods_by_col,
        None,
        result.warnings,
        report_mode,
        histograms=result.histograms,
        hist=hist,
        skipped=skipped,
    )
    if plot_path:
        from normcli.plot import table_panels

        panels = table_panels(result.before, result.after, result.histograms)
        _write_plot(plot_path, f"fit: {reader.label}", panels)


def _fit_file(
    path: str,
    *,
    fmt: str | None,
    axis: int | None,
    method: str | None,
    overrides: dict[str, str],
    columns: tuple[str, ...],
    exclude: tuple[str, ...],
    options: dict[str, Any],
    quiet: bool,
    memory: int | None,
    shown_as: str | None = None,
) -> tuple[Reader, FitResult, list[str]]:
    """(the closed reader, fit_stream's result, the columns left unscaled as empty) of fitting
    one file (`shown_as`: its name in messages, when `path` is a spooled copy). A column with
    no value in the first MiB is not scaled, and a warning says how to scale it; a CSV/TSV
    scaler records the dialect options given, so that transform reads new files alike."""
    from normcli.io import open_reader
    from normcli.pipeline import fit_stream
    from normcli.selection import expand_columns

    given = _dialect_options()
    with open_reader(path, fmt, axis=axis, dialect=given) as reader, _Progress(quiet) as progress:
        if shown_as is not None:
            reader.label = shown_as
        result = fit_stream(
            reader,
            method=method,
            overrides=overrides,
            columns=expand_columns(columns, reader.names, "--columns", reader.label),
            exclude=expand_columns(exclude, reader.names, "--exclude", reader.label) or (),
            options=options,
            progress=progress.update,
            memory=memory,
        )
    if reader.format in ("csv", "tsv"):
        result.scaler.dialect = given.given()
    fitted = {c.name for c in result.scaler.columns}
    skipped = [n for n in reader.empty_names if n not in fitted]
    for name in skipped:
        result.warnings.append(
            f"column {name!r} is empty in the first MiB, so it was not scaled; "
            f"if numbers follow, name it (--columns {name} or -m {name}=METHOD)"
        )
    return reader, result, skipped


def _fit_apply(
    *,
    input_path: str,
    fmt: str | None,
    axis: int | None,
    method: str | None,
    overrides: dict[str, str],
    columns: tuple[str, ...],
    exclude: tuple[str, ...],
    options: dict[str, Any],
    output: str,
    scaler_path: str | None,
    output_format: str | None,
    quiet: bool,
    stats_json: str | None,
    report_mode: str | None,
    memory: int | None = None,
    hist: bool | None = None,
    plot_path: str | None = None,
) -> None:
    """fit, then transform the same input: stdin is kept in a temporary file for the second pass."""
    from normcli import report
    from normcli.io import check_output_path, detect_format, label
    from normcli.io.spool import spooled

    check_output_path(output, (input_path,))
    if scaler_path is not None:
        check_output_path(scaler_path, (input_path,), "-s", (("-o", output),))
    if stats_json:
        others = (("-o", output),) + ((("-s", scaler_path),) if scaler_path else ())
        check_output_path(stats_json, (input_path,), "--stats-json", others)
    in_fmt = detect_format(input_path, fmt, default="csv" if input_path == STDIO else None)
    with spooled(input_path) as path:
        _, result, _ = _fit_file(
            path,
            fmt=in_fmt,
            axis=axis,
            method=method,
            overrides=overrides,
            columns=columns,
            exclude=exclude,
            options=options,
            quiet=quiet,
            memory=memory,
            shown_as=label(input_path),
        )
        if not quiet:
            con = report.console()
            for w in result.warnings:
                report.warn(con, w)
        _run_apply(
            input_path=path,
            scaler_path="",
            output=output,
            output_format=output_format,
            dtype="float64",
            precision=None,
            fmt=in_fmt,
            axis=axis,
            quiet=quiet,
            stats_json=stats_json,
            inverse=False,
            report_mode=report_mode,
            hist=hist,
            plot_path=plot_path,
            fitted=result.scaler,
            source_label=label(input_path),
        )
    if scaler_path is not None:
        _write_text(scaler_path, result.scaler.to_json())


def _parse_methods(values: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    default: str | None = None
    overrides: dict[str, str] = {}
    for value in values:
        column, eq, method = value.rpartition("=")
        if eq:
            if not column:
                raise UsageError(f"-m {value!r} names no column; use COLUMN=METHOD")
            if column in overrides:
                first = overrides[column]
                raise UsageError(f"-m gives column {column!r} two methods ({first!r}, {method!r}); keep one")
            overrides[column] = method
        elif default is not None:
            raise UsageError(f"-m given two methods ({default!r}, {value!r}); use COLUMN=METHOD for the second")
        else:
            default = value
    from normcli.method_table import get_method

    for name in [default, *overrides.values()]:
        if name is not None:
            get_method(name)
    return default, overrides


def _method_options(**given: Any) -> dict[str, Any]:
    """The method options the user actually gave (defaults live with the methods)."""
    out = {}
    for given_key, value in given.items():
        key = given_key.rstrip("_")
        if value is None or value is False or value == ():
            continue
        out[key] = list(value) if key in ("range", "quantile_range") else value
    return out


def _parse_size(text: str | None) -> int | None:
    """A size in bytes from 1000000, 512K, 256M or 2G (powers of 1024); None when not given."""
    if text is None:
        return None
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in units else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError:
        number = -1.0
    if not number > 0 or number * units[unit] > 1 << 50:
        raise UsageError(f"--memory {text!r} is not a size; give bytes or a number with K, M or G (e.g. 512M)")
    return int(number * units[unit])


# --- merge ---------------------------------------------------------------------------------------


@click.command()
@click.argument("scalers", nargs=-1, required=True, metavar="SCALER.json...")
@click.option("-o", "--output", default=STDIO, show_default=True, help="The merged scaler JSON file ('-': stdout).")
@click.option("-q", "--quiet", is_flag=True, help="Print no summary on stderr.")
def merge(scalers: tuple[str, ...], output: str, quiet: bool) -> None:
    """Merge scalers fitted on disjoint shards of the same columns, with the same methods and
    options, into the scaler of all the shards: exact for the moment methods, within the sketch's
    rank error for robust and quantile; power transforms must be refitted."""
    from normcli.api import load
    from normcli.io import check_output_path
    from normcli.merge import merge_scalers

    check_output_path(output, scalers)
    merged = merge_scalers([load(path) for path in scalers], [f"scaler file {path}" for path in scalers])
    _write_text(output, merged.to_json())
    if quiet:
        return
    # plain lines, not rich markup: column names are the user's text
    lines = [f"merged {len(scalers)} scalers: {len(merged.columns)} column(s)"]
    for col in merged.columns:
        if col.summary and col.summary.get("rank_error"):
            error = col.summary["rank_error"]
            lines.append(f"column {col.name!r} ({col.method}): quantiles within rank error {error:.3g}")
    sys.stderr.write("\n".join(lines) + "\n")
