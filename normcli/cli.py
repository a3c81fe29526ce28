"""The command line: parse options, call the pipeline, render the report. Nothing else.

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
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from normcli._version import __version__
from normcli.cli_dataset import check_engine, engine_options
from normcli.errors import ExitCode, NormcliError, UsageError
from normcli.untrusted import visible

if TYPE_CHECKING:
    from normcli.scaler import Scaler

from normcli import cli_check, cli_describe, cli_tensor
from normcli.cli_options import (
    FLAGS,
    FORMAT_CHOICES,
    STDIO,
    F,
    _all_outputs_or_none,
    _check_binary_output,
    _check_not_directory,
    _check_plot,
    _dialect_options,
    _hist_option,
    _input_options,
    _input_paths,
    _plot_option,
    _Progress,
    _report,
    _report_options,
    _scaler_dialect,
    _stdout_aliases,
    _write_plot,
    _write_text,
)


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


# --- shared options ----------------------------------------------------------------------------


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


def _report_choice(f: F) -> F:
    return click.option(
        "--report",
        "report_mode",
        type=click.Choice(["full", "summary", "none"]),
        help="The table on stderr: full (before/after per column), summary (one line per column: mean and std "
        "before -> after, warnings), none [default: full; summary from 100 columns].",
    )(f)


def _split_names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",")]
    if not all(names):
        raise UsageError(f"column list {value!r} has an empty name")
    return names


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


# --- fit -----------------------------------------------------------------------------------------


@cli.command()
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
    from normcli.io import check_output_path, open_reader
    from normcli.pipeline import fit_stream
    from normcli.selection import expand_columns

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
    given = _dialect_options()
    with open_reader(input_path, fmt, axis=axis, dialect=given) as reader, _Progress(quiet) as progress:
        result = fit_stream(
            reader,
            method=default,
            overrides=overrides,
            columns=expand_columns(columns, reader.names, "--columns", reader.label),
            exclude=expand_columns(exclude, reader.names, "--exclude", reader.label) or (),
            options=options,
            progress=progress.update,
            memory=_parse_size(memory),
        )
    if reader.format in ("csv", "tsv"):
        result.scaler.dialect = given.given()  # so that transform reads new files of this kind alike
    _write_text(output, result.scaler.to_json())
    methods_by_col = {c.name: c.method for c in result.scaler.columns}
    result.warnings[:0] = reader.notes
    fitted = set(methods_by_col)
    skipped = [n for n in reader.empty_names if n not in fitted]
    for name in skipped:
        result.warnings.append(
            f"column {name!r} is empty in the first MiB, so it was not scaled; "
            f"if numbers follow, name it (--columns {name} or -m {name}=METHOD)"
        )
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
    from normcli.io import check_output_path, detect_format, label, open_reader
    from normcli.io.spool import spooled
    from normcli.pipeline import fit_stream
    from normcli.selection import expand_columns

    check_output_path(output, (input_path,))
    if scaler_path is not None:
        check_output_path(scaler_path, (input_path,), "-s", (("-o", output),))
    if stats_json:
        others = (("-o", output),) + ((("-s", scaler_path),) if scaler_path else ())
        check_output_path(stats_json, (input_path,), "--stats-json", others)
    in_fmt = detect_format(input_path, fmt, default="csv" if input_path == STDIO else None)
    with spooled(input_path) as path:
        given = _dialect_options()
        with open_reader(path, in_fmt, axis=axis, dialect=given) as reader, _Progress(quiet) as progress:
            reader.label = label(input_path)
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
            result.scaler.dialect = given.given()  # as plain fit records it, for later transforms
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


@cli.command()
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


# --- transform / inverse ---------------------------------------------------------------------


def _apply_command(name: str, inverse: bool, doc: str) -> click.Command:
    @cli.command(name=name, help=doc)
    @click.argument("input_path", metavar="INPUT...", nargs=-1, required=True, callback=_input_paths)
    @click.option("-s", "--scaler", "scaler_path", required=True, help="Scaler JSON file written by `normcli fit`.")
    @click.option("-o", "--output", default=STDIO, show_default=True, help="Output file ('-': stdout).")
    @click.option(
        "--output-format",
        type=click.Choice(FORMAT_CHOICES, case_sensitive=False),
        help="Output format [default: from -o's extension, else the input's].",
    )
    @click.option(
        "--dtype",
        type=click.Choice(["float64", "float32"]),
        help="Type of the scaled columns in the output [default: float64; inverse writes the columns that "
        "held integers as integers when they round back].",
    )
    @click.option(
        "--precision",
        type=click.IntRange(1, 17),
        metavar="N",
        help="Round scaled values to N significant digits (shorter text output, faster writes).",
    )
    @_input_options
    @_report_options
    @_report_choice
    @click.option("--overwrite", is_flag=True, help="With -o DIR/: replace an existing DIR (when all parts succeed).")
    @engine_options
    @_hist_option
    @_plot_option
    @_all_outputs_or_none
    def command(overwrite: bool, engine: str, scheduler: str | None, workers: int | None, **options: Any) -> None:
        check_engine(engine, scheduler, workers)
        if engine != "local" and not isinstance(options["input_path"], tuple):
            options["input_path"] = (options["input_path"],)  # one file is a dataset of one part
        if isinstance(options["input_path"], tuple):
            from normcli.cli_dataset import apply_dataset

            engine_args = {"engine": engine, "scheduler": scheduler, "workers": workers}
            apply_dataset(options.pop("input_path"), inverse=inverse, overwrite=overwrite, **engine_args, **options)
            return
        if overwrite:
            raise UsageError("--overwrite is for a dataset written to a directory (-o DIR/)")
        _run_apply(inverse=inverse, **options)

    return command


def _run_apply(
    *,
    input_path: str,
    scaler_path: str,
    output: str,
    output_format: str | None,
    dtype: str | None,
    precision: int | None,
    fmt: str | None,
    axis: int | None,
    quiet: bool,
    stats_json: str | None,
    inverse: bool,
    report_mode: str | None = None,
    hist: bool | None = None,
    plot_path: str | None = None,
    fitted: Scaler | None = None,
    source_label: str | None = None,
) -> None:
    import numpy as np

    from normcli.api import load
    from normcli.io import check_output_path, open_writer
    from normcli.pipeline import apply_formats, apply_stream, open_apply_input

    output, stats_json = _stdout_aliases(output, stats_json)
    if input_path == STDIO and scaler_path == STDIO:
        raise UsageError("INPUT and --scaler cannot both be stdin")
    check_output_path(output, (input_path, scaler_path))
    if stats_json:
        check_output_path(stats_json, (input_path, scaler_path), "--stats-json", (("-o", output),))
    others = (("-o", output),) + ((("--stats-json", stats_json),) if stats_json else ())
    _check_plot(plot_path, (input_path, scaler_path), others)
    scaler = load(scaler_path) if fitted is None else fitted
    in_fmt, out_fmt = apply_formats(input_path, output, fmt, output_format)
    _check_binary_output(output, out_fmt)
    dialect = _dialect_options()
    if in_fmt in ("csv", "tsv") and not inverse and scaler.dialect:
        dialect = dialect.or_else(_scaler_dialect(scaler, scaler_path))
    opened = open_apply_input(input_path, scaler, in_fmt, out_fmt, axis=axis, dialect=dialect)
    reader = opened.reader
    if source_label is not None:
        reader.label = source_label
    with (
        reader,
        _Progress(quiet) as progress,
        open_writer(
            output, opened.output_format, shape=opened.output_shape, dtype=np.dtype(dtype or "float64")
        ) as writer,
    ):
        result = apply_stream(
            reader,
            writer,
            scaler,
            inverse=inverse,
            dtype=np.dtype(dtype or "float64"),
            precision=precision,
            with_stats=not quiet or bool(stats_json) or bool(plot_path),
            progress=progress.update,
            restore_integers=dtype is None,
        )
    from normcli.methods import counter_notes

    methods = {c.name: c.method for c in scaler.columns}
    _report(
        quiet,
        stats_json,
        "inverse" if inverse else "transform",
        reader.label,
        result.rows,
        result.before,
        result.after,
        methods,
        result.counters,
        reader.notes + result.warnings + counter_notes(result.counters),
        report_mode,
        result.histograms,
        hist,
    )
    if plot_path:
        from normcli.plot import table_panels

        command = "inverse" if inverse else "transform"
        _write_plot(
            plot_path, f"{command}: {reader.label}", table_panels(result.before, result.after, result.histograms)
        )


transform = _apply_command(
    "transform",
    False,
    "Scale INPUT ('-': stdin) with a saved scaler; write the result to -o (default stdout). Several paths, quoted "
    "globs or directories are a dataset: -o DIR/ writes one part per input part.",
)
inverse = _apply_command(
    "inverse", True, "Undo a transform: map scaled INPUT back to the original units with the same scaler."
)


# --- methods (stats and show: cli_describe.py) ------------------------------------------------------------------------


@cli.command()
def methods() -> None:
    """List the scaling methods with their formulas and inverses."""
    from normcli.method_table import METHODS
    from normcli.report import console, methods_table

    console(sys.stdout).print(methods_table(METHODS, FLAGS))


# --- helpers ------------------------------------------------------------------------------------


# stats, show and check live in their own modules
cli.add_command(cli_describe.stats)
cli.add_command(cli_describe.show)
cli.add_command(cli_check.check)
# lrn, norm and bn-stats too
cli.add_command(cli_tensor.lrn)
cli.add_command(cli_tensor.norm)
cli.add_command(cli_tensor.bn_stats)

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
