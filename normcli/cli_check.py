"""`normcli check DATA -s SCALER`: has DATA drifted from the data the scaler was fitted on?

`normcli.cli` adds it to its group (this module does not import cli: no cycle). The figures come
from normcli/drift.py; this module parses, streams (pipeline.drift_stream) and renders.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from normcli.cli_options import STDIO, _check_not_directory, _dialect_options, _input_options, _Progress
from normcli.errors import DataError, UsageError


@click.command()
@click.argument("input_path", metavar="DATA")
@click.option("-s", "--scaler", "scaler_path", required=True, help="Scaler JSON file written by `normcli fit`.")
@click.option(
    "--max-psi", type=float, default=0.2, show_default=True, help="A column drifts when its PSI exceeds this."
)
@click.option("--max-ks", type=float, help="A column drifts when its KS distance exceeds this [default: not checked].")
@click.option(
    "--max-null-increase",
    type=float,
    default=0.05,
    show_default=True,
    help="A column drifts when its share of nulls grew by more than this (0.05: 5 percentage points).",
)
@click.option(
    "--output-format",
    "out_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table, or the figures as JSON for machines (stdout).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; the exit code says it (0 pass, 1 drift).")
@_input_options
def check(
    input_path: str,
    scaler_path: str,
    max_psi: float,
    max_ks: float | None,
    max_null_increase: float,
    out_format: str,
    quiet: bool,
    fmt: str | None,
    axis: int | None,
) -> int:
    """Compare DATA ('-': stdin) with the data SCALER was fitted on, column by column: rows,
    null share then and now, mean shift in fitted standard deviations, share outside the
    fitted range, PSI and KS distance. Exit 0 when every column passes, 1 when one drifts."""
    from normcli import report
    from normcli.api import load
    from normcli.drift import Thresholds, evaluate
    from normcli.pipeline import drift_stream
    from normcli.validate import as_nonnegative_float

    for name, value in (("max_psi", max_psi), ("max_ks", max_ks), ("max_null_increase", max_null_increase)):
        if value is not None:
            as_nonnegative_float(name, value)
    if input_path == STDIO and scaler_path == STDIO:
        raise UsageError("DATA and --scaler cannot both be stdin")
    dataset = _dataset(input_path, fmt, axis)  # before the scaler: DATA's own errors come first
    scaler = load(scaler_path)
    missing = [c.name for c in scaler.columns if c.profile is None]
    if missing:
        raise DataError(
            f"{scaler_path} keeps no profile of the fitted data for column {missing[0]!r} (written by an older "
            "normcli); refit it with `normcli fit` to check drift"
        )
    if fmt is None and axis is None and scaler.layout.is_array:
        axis = scaler.layout.axis
    thresholds = Thresholds(max_psi, max_ks, max_null_increase)
    dialect = _dialect_options()
    with _open_data(input_path, dataset, fmt, axis, scaler.names, dialect) as reader, _Progress(quiet) as progress:
        counters = drift_stream(reader, scaler, progress=progress.update)
    results = [evaluate(name, counter, thresholds) for name, counter in counters.items()]
    drifted = [r.name for r in results if r.drifted]
    if out_format == "json":
        data: dict[str, Any] = {
            "input": reader.label,
            "scaler": scaler_path,
            "thresholds": {"max_psi": max_psi, "max_ks": max_ks, "max_null_increase": max_null_increase},
            "drift": bool(drifted),
            "drifted_columns": drifted,
            "columns": {r.name: r.to_dict() for r in results},
        }
        sys.stdout.write(report.dumps(data))
    elif not quiet:
        con = report.wide_console(sys.stdout)
        con.print(report.layout(report.drift_grid(f"check: {reader.label} against {scaler_path}", results), con))
    if not quiet:
        con = report.console()
        if drifted:
            names = ", ".join(repr(n) for n in drifted)
            report.warn(con, f"drift in {len(drifted)} of {len(results)} column(s): {names}")
    return 1 if drifted else 0


def _dataset(input_path: str, fmt: str | None, axis: int | None) -> Any:
    """DATA as a dataset when it names one (a directory of parts, a quoted glob), else None."""
    from normcli.io.dataset import expand_inputs, is_dataset_argument

    if not is_dataset_argument((input_path,)):
        _check_not_directory(input_path, "check")
        return None
    if axis is not None:
        raise UsageError("--axis applies to one .npy input; a dataset holds tables")
    return expand_inputs((input_path,), fmt)


def _open_data(input_path: str, dataset: Any, fmt: str | None, axis: int | None, names: list[str], dialect: Any) -> Any:
    """DATA's reader: one file, or the dataset read as the concatenation of its parts, each
    with the CSV options given (a drift check of today's folder of parts)."""
    from normcli.io import open_reader
    from normcli.io.dataset import DatasetReader

    if dataset is None:
        return open_reader(input_path, fmt, float_columns=names, axis=axis, dialect=dialect)
    return DatasetReader(dataset, lambda p: open_reader(p, dataset.format, float_columns=names, dialect=dialect))
