"""fit, stats, transform and inverse over a dataset: several paths, globs or directories.

`normcli.cli_fit`, `normcli.cli_apply` and `normcli.cli_describe` hand a command here when
INPUT... names more than one file; the options are the command's own, parsed there. The
work runs on an engine (engines/local.py in this process); this module checks the outputs,
opens the parts and reports.
"""

from __future__ import annotations

from typing import Any

import click

from normcli.errors import UsageError

STDIO = "-"  # not from normcli.io, which loads pyarrow: this module is imported at start-up

__all__ = ["apply_dataset", "engine_options", "fit_dataset", "stats_dataset"]


def engine_options(f: Any) -> Any:
    """--engine, --scheduler, --workers (named as Dask names them)."""
    f = click.option(
        "--workers",
        type=click.IntRange(min=1),
        metavar="N",
        help="--engine dask: start a local cluster of N processes.",
    )(f)
    f = click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="--engine dask: the scheduler to use, e.g. tcp://host:8786 [default: $DASK_SCHEDULER_ADDRESS].",
    )(f)
    f = click.option(
        "--engine",
        type=click.Choice(["local", "dask"]),
        default="local",
        show_default=True,
        help="Run here, or one task per part on a Dask cluster (pip install 'normcli[dask]').",
    )(f)
    return f


def check_engine(engine: str, scheduler: str | None, workers: int | None) -> None:
    from normcli.validate import check_engine as checked

    checked(engine, scheduler, workers)


def _open(paths: tuple[str, ...], fmt: str | None, axis: int | None) -> Any:
    """The dataset named by `paths`, and the CSV dialect options given (applied to every
    part's reader; each part sniffs what they leave open, as one file does)."""
    from normcli.cli_options import _dialect_options
    from normcli.io.dataset import expand_inputs

    if axis is not None:
        raise UsageError("--axis applies to one .npy input; a dataset holds tables")
    return expand_inputs(paths, fmt), _dialect_options()


def _plot(plot_path: str | None, title: str, result: Any) -> None:
    """--plot of a dataset: the merged before/after statistics and histograms, as for one file."""
    if plot_path:
        from normcli.cli_options import _write_plot
        from normcli.plot import table_panels

        _write_plot(plot_path, title, table_panels(result.before, result.after, result.histograms))


def _parts_line(quiet: bool, dataset: Any, rows: int | None) -> None:
    if not quiet:
        n = len(dataset.parts)
        click.echo(f"read {n} part{'s' if n != 1 else ''}, {rows} rows", err=True)


def fit_dataset(
    paths: tuple[str, ...],
    *,
    fmt,
    axis,
    output,
    stats_json,
    quiet,
    report_mode,
    engine="local",
    scheduler=None,
    workers=None,
    hist=None,
    plot_path=None,
    **fit: Any,
) -> None:
    """`fit` over the parts in order, as over their concatenation."""
    from normcli.api_dataset import run_fit
    from normcli.cli_options import _check_plot, _Progress, _report, _write_text
    from normcli.io import check_output_path, open_reader
    from normcli.io.dataset import DatasetReader, local_path
    from normcli.selection import expand_columns

    dataset, dialect = _open(paths, fmt, axis)
    output = local_path(output)
    check_output_path(output, tuple(dataset.paths))
    if stats_json:
        check_output_path(stats_json, tuple(dataset.paths), "--stats-json", (("-o", output),))
    others = (("-o", output),) + ((("--stats-json", stats_json),) if stats_json else ())
    _check_plot(plot_path, tuple(dataset.paths), others)
    with (
        DatasetReader(dataset, lambda p: open_reader(p, dataset.format, dialect=dialect)) as reader,
        _Progress(quiet) as progress,
    ):
        selected = {
            "method": fit["method"],
            "overrides": fit["overrides"],
            "columns": expand_columns(fit["columns"], reader.names, "--columns", reader.label),
            "exclude": expand_columns(fit["exclude"], reader.names, "--exclude", reader.label) or (),
            "options": fit["options"],
        }
        result = run_fit(
            dataset, reader, selected, engine=engine, scheduler=scheduler, workers=workers, progress=progress.update,
            dialect=dialect,
        )  # fmt: skip
    if dataset.format in ("csv", "tsv"):
        result.scaler.dialect = dialect.given()  # so that transform reads new files of this kind alike
    _write_text(output, result.scaler.to_json())
    methods = {c.name: c.method for c in result.scaler.columns}
    _report(
        quiet, stats_json, "fit", reader.label, result.rows, result.before, result.after, methods, None,
        result.warnings, report_mode, histograms=result.histograms, hist=hist,
    )  # fmt: skip
    _parts_line(quiet, dataset, result.rows)
    _plot(plot_path, f"fit: {reader.label}", result)


def stats_dataset(
    paths: tuple[str, ...], *, fmt, axis, columns, exclude, ddof, out_format, hist=None, plot_path=None,
    engine="local", scheduler=None, workers=None,
) -> None:  # fmt: skip
    """`stats` of the parts together (on the dask engine, a profile per piece, merged in order)."""
    from normcli.cli_options import _check_plot, _Progress, _show_stats
    from normcli.io import open_reader
    from normcli.io.dataset import DatasetReader
    from normcli.pipeline import profile_stream
    from normcli.selection import expand_columns

    dataset, dialect = _open(paths, fmt, axis)
    _check_plot(plot_path, tuple(dataset.paths), ())
    with (
        DatasetReader(dataset, lambda p: open_reader(p, dataset.format, dialect=dialect)) as reader,
        _Progress(False) as progress,
    ):
        names = expand_columns(columns, reader.names, "--columns", reader.label)
        dropped = expand_columns(exclude, reader.names, "--exclude", reader.label) or ()
        if engine == "local":
            result = profile_stream(reader, names, dropped, progress=progress.update)
        else:
            result = _profile_on_dask(dataset, reader, names, dropped, scheduler, workers, progress.update, dialect)
    _show_stats(reader.label, result, ddof, out_format, hist, plot_path)


def _profile_on_dask(dataset: Any, reader: Any, names: Any, dropped: Any, scheduler: Any, workers: Any,
                     progress: Any, dialect: Any) -> dict[str, Any]:  # fmt: skip
    """The columns `profile_stream` would describe, profiled by the dask engine."""
    from normcli.engines.dask import connect, profile_parts
    from normcli.errors import DataError

    numeric, empty = set(reader.numeric_names), set(reader.empty_names)
    if names is None:
        chosen = [n for n in reader.names if n not in empty or n in numeric]
    else:
        chosen = list(dict.fromkeys(names))
    chosen = [n for n in chosen if n not in set(dropped)]
    if not chosen:
        raise DataError.about("{exclude} leaves no column of {source}", source=reader.label)
    file_names = [n for n in reader.names if n not in dataset.key_names]
    reader.close()
    with connect(scheduler, workers) as client:
        result = profile_parts(
            client, dataset, chosen, file_names, list(reader.numeric_names), progress, {"dialect": dialect}
        )
    return {n: result[n] for n in chosen}


def apply_dataset(
    paths: tuple[str, ...],
    *,
    scaler_path,
    output,
    output_format,
    dtype,
    precision,
    fmt,
    axis,
    quiet,
    stats_json,
    inverse,
    overwrite=False,
    report_mode=None,
    engine="local",
    scheduler=None,
    workers=None,
    hist=None,
    plot_path=None,
) -> None:
    """`transform`/`inverse` of a dataset: into one file (the parts concatenated, hive keys as
    columns) or, with -o DIR/, one output part per input part, atomic as a whole."""
    import numpy as np

    from normcli.api import load
    from normcli.api_dataset import run_transform
    from normcli.cli_options import _check_plot, _Progress, _report, _stdout_aliases
    from normcli.io import check_output_path, detect_format
    from normcli.io.dataset import check_output_directory, is_directory_output, output_location
    from normcli.methods import counter_notes

    output, stats_json = _stdout_aliases(output, stats_json)
    dataset, dialect = _open(paths, fmt, axis)
    output = output_location(output)
    to_directory = is_directory_output(output)
    if to_directory:
        check_output_directory(output, dataset, overwrite=overwrite)
        out_fmt = detect_format(output, output_format, option="--output-format") if output_format else dataset.format
    else:
        if overwrite:
            raise UsageError("--overwrite is for a directory output (-o DIR/); a file output is replaced anyway")
        check_output_path(output, (*dataset.paths, scaler_path))
        if output_format:
            out_fmt = detect_format(output, output_format, option="--output-format")
        elif output != STDIO:
            out_fmt = detect_format(output, None, option="--output-format")
        else:
            out_fmt = dataset.format
        if out_fmt == "npy":
            raise UsageError("a dataset is written as csv, tsv or parquet, not .npy")
        if engine == "dask":
            raise UsageError("--engine dask writes one part per task: give a directory output, -o DIR/")
    if stats_json:
        check_output_path(stats_json, (*dataset.paths, scaler_path), "--stats-json", (("-o", output),))
    others = (("-o", output),) + ((("--stats-json", stats_json),) if stats_json else ())
    _check_plot(plot_path, (*dataset.paths, scaler_path), others)
    scaler = load(scaler_path)
    if dataset.format in ("csv", "tsv") and not inverse and scaler.dialect:
        from normcli.cli_options import _scaler_dialect

        dialect = dialect.or_else(_scaler_dialect(scaler, scaler_path))  # as for one file
    with _Progress(quiet) as progress:
        result, label = run_transform(
            dataset, output, out_fmt, scaler, overwrite=overwrite, engine=engine, scheduler=scheduler,
            workers=workers, progress=progress.update, inverse=inverse, dtype=np.dtype(dtype), precision=precision,
            with_stats=not quiet or bool(stats_json) or bool(plot_path), dialect=dialect,
        )  # fmt: skip
    methods = {c.name: c.method for c in scaler.columns}
    command = "inverse" if inverse else "transform"
    _report(
        quiet, stats_json, command, label, result.rows, result.before, result.after,
        methods, result.counters, result.warnings + counter_notes(result.counters), report_mode,
        result.histograms, hist,
    )  # fmt: skip
    _parts_line(quiet, dataset, result.rows)
    _plot(plot_path, f"{command}: {label}", result)
