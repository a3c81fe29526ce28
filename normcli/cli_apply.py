"""transform and inverse: apply a saved scaler to INPUT, or undo it, and write the data.

One factory builds both commands (they differ only in the direction); a dataset of several
paths goes to `normcli.cli_dataset`. `_run_apply` is also the second pass of `fit --apply`
(`normcli.cli_fit`). `normcli.cli` registers both commands on its group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from normcli.cli_dataset import check_engine, engine_options
from normcli.cli_options import (
    FORMAT_CHOICES,
    STDIO,
    _all_outputs_or_none,
    _check_binary_output,
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
    _scaler_dialect,
    _stdout_aliases,
    _write_plot,
)
from normcli.errors import UsageError

if TYPE_CHECKING:
    from normcli.scaler import Scaler


# --- transform / inverse ---------------------------------------------------------------------


def _apply_command(name: str, inverse: bool, doc: str) -> click.Command:
    @click.command(name=name, help=doc)
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
