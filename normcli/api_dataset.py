"""Datasets from Python: fit on, and transform, several files or a partitioned folder, in
this process or on a Dask cluster. The CLI's dataset commands run through the same two
functions (`run_fit`, `run_transform`), so the engines are chosen in one place.

    >>> scaler = normcli.fit_dataset("lake/events/", method="zscore", engine="dask", workers=2)
    >>> scaler.transform_dataset("lake/events/", "scaled/", engine="dask", workers=2)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from normcli.errors import UsageError
from normcli.io.dataset import (
    Dataset,
    DatasetReader,
    check_output_directory,
    expand_inputs,
    is_directory_output,
    output_location,
)
from normcli.io.dialect import DialectOptions
from normcli.io.readers import Reader, open_reader
from normcli.pipeline import ApplyResult, Progress, apply_stream, fit_stream
from normcli.scaler import Scaler
from normcli.scaler_fit import FitResult, plan_columns
from normcli.validate import check_engine

__all__ = ["fit_dataset", "run_fit", "run_transform", "transform_dataset"]

PathsLike = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _paths(paths: PathsLike) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def run_fit(
    dataset: Dataset,
    reader: Reader,
    selected: Mapping[str, Any],
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    dialect: DialectOptions | None = None,
) -> FitResult:
    """Fit over the dataset read by `reader` (open, not yet read), on `engine`.
    `selected`: fit_stream's method, overrides, columns, exclude and options; `dialect`: the
    CSV options every part is read with (the dask engine's workers open the parts anew)."""
    if engine == "local":
        return fit_stream(reader, progress=progress, **selected)
    from normcli.engines.dask import connect, fit_parts

    plans = plan_columns(
        reader.names, reader.numeric_names, source=reader.label, empty=getattr(reader, "empty_names", ()), **selected
    )
    names = [n for n in reader.names if n not in dataset.key_names]
    numeric, layout, input_columns = list(reader.numeric_names), reader.layout, list(reader.names)
    reader.close()
    with connect(scheduler, workers) as client:
        return fit_parts(
            client, dataset, plans, names, numeric, dataset.parts[0].label, layout, input_columns, progress,
            {"dialect": dialect},
        )  # fmt: skip


def run_transform(
    dataset: Dataset,
    output: str,
    out_format: str,
    scaler: Scaler,
    *,
    overwrite: bool = False,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    inverse: bool = False,
    dtype: np.dtype | None = None,
    precision: int | None = None,
    with_stats: bool = True,
    dialect: DialectOptions | None = None,
) -> tuple[ApplyResult, str]:
    """Transform (or inverse) the dataset into `output`: a directory (one part per input
    part, atomic as a whole) or one file ('-': stdout), on `engine`. Returns the merged
    statistics and how the input is named in the report."""
    from normcli.engines.local import merge_apply_results, transform_to_directory
    from normcli.io import open_writer

    apply: dict[str, Any] = {"inverse": inverse, "dtype": np.dtype(dtype or np.float64), "precision": precision}
    apply["with_stats"] = with_stats
    reader_options = {
        "float_columns": scaler.names,
        "text_passthrough": out_format in ("csv", "tsv"),
        "dialect": dialect,
    }

    def open_part(path: str) -> Reader:
        return open_reader(path, dataset.format, **reader_options)  # type: ignore[arg-type]

    if engine == "dask":
        if not is_directory_output(output):
            raise UsageError("the dask engine writes one part per task: give a directory output, -o DIR/")
        from normcli.engines.dask import connect, transform_parts

        with DatasetReader(dataset, open_part, with_keys=False) as reader:
            names, numeric = list(reader.names), list(reader.numeric_names)
        with connect(scheduler, workers) as client:
            result = transform_parts(
                client, dataset, output, out_format, scaler, reader_options, names, numeric, dataset.parts[0].label,
                overwrite=overwrite, merge=merge_apply_results, progress=progress, **apply,
            )  # fmt: skip
        return result, dataset.label
    if is_directory_output(output):
        result = transform_to_directory(
            dataset, output, out_format, scaler, open_part, overwrite=overwrite, progress=progress, **apply
        )
        return result, dataset.label
    with DatasetReader(dataset, open_part) as reader, open_writer(output, out_format) as writer:
        result = apply_stream(reader, writer, scaler, progress=progress, **apply)
    return result, reader.label


# --- the Python API ------------------------------------------------------------------------------


def fit_dataset(
    paths: PathsLike,
    method: str | None = "zscore",
    *,
    columns: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    methods: Mapping[str, str] | None = None,
    format: str | None = None,  # noqa: A002 - the CLI's --format
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    **options: Any,
) -> Scaler:
    """Fit a scaler on the files named by `paths` (a path, a glob, a directory, or a list of
    them) as on their concatenation. `engine="dask"` runs one task per file on the cluster
    at `scheduler` (else $DASK_SCHEDULER_ADDRESS) or on a local cluster of `workers`
    processes. Options as `normcli.fit`; returns the core scaler (`normcli.fit_dataset` wraps
    it as a `normcli.Scaler`: this module does not import the API module, which imports it)."""
    workers = check_engine(engine, scheduler, workers)
    options.setdefault("invalid", "error")
    dataset = expand_inputs(_paths(paths), format)
    selected = {
        "method": method,
        "overrides": methods,
        "columns": None if columns is None else list(columns),
        "exclude": list(exclude),
        "options": options,
    }
    with DatasetReader(dataset, lambda p: open_reader(p, dataset.format)) as reader:
        result = run_fit(dataset, reader, selected, engine=engine, scheduler=scheduler, workers=workers)
    for message in result.warnings:
        warnings.warn(message, UserWarning, stacklevel=3)  # the caller of normcli.fit_dataset
    return result.scaler


def transform_dataset(
    scaler: Scaler,
    src: PathsLike,
    dst: str | os.PathLike[str],
    *,
    inverse: bool = False,
    output_format: str | None = None,
    overwrite: bool = False,
    format: str | None = None,  # noqa: A002 - the CLI's --format
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
) -> int:
    """Transform the dataset `src` into `dst`: a directory (a trailing '/' or an existing
    one: one part per input part, all or nothing) or one file. Returns the rows written."""
    from normcli.io import check_output_path, detect_format

    workers = check_engine(engine, scheduler, workers)
    dataset = expand_inputs(_paths(src), format)
    output = output_location(os.fspath(dst))
    if is_directory_output(output):
        check_output_directory(output, dataset, overwrite=overwrite)
        out_format = detect_format(output, output_format) if output_format else dataset.format
    else:
        check_output_path(output, tuple(dataset.paths))
        out_format = detect_format(output, output_format)
    result, _ = run_transform(
        dataset, output, out_format, scaler, overwrite=overwrite, engine=engine, scheduler=scheduler,
        workers=workers, inverse=inverse, with_stats=False,
    )  # fmt: skip
    return result.rows
