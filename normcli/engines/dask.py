"""The Dask engine: tasks of parts on a `distributed` cluster.

A fit or stats task reads a piece of a part (all of it, a run of Parquet row groups or a byte
range of a large CSV: engines/tasks.py) and returns its partial statistics of the scaler (a
few numbers per column) or its profiles; a transform task is one whole part. The client
merges them in part (then piece) order, never in completion order, so the result does not
depend on scheduling and equals the local engine's. A transform task writes its own
output part into the run's temporary folder (which must be on a file system the workers
share) and returns its before/after statistics. Dask retries a task whose worker died; a
task that fails on bad data stops the run, and the client cancels the others.

dask and distributed are an optional extra (`pip install "normcli[dask]"`), imported here only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from normcli.engines.tasks import Piece, merge_profiles, open_piece, profile_task, split_parts
from normcli.errors import DataError, UsageError
from normcli.io.dataset import Dataset, Part, atomic_directory, check_part, open_part_writer, output_part_name
from normcli.layout import Layout
from normcli.pipeline import ApplyResult, Progress, apply_stream, with_histograms
from normcli.scaler import Scaler
from normcli.scaler_fit import ColumnPlan, FitResult, ScalerFitter
from normcli.sketch import Histogram

__all__ = ["connect", "fit_parts", "profile_parts", "transform_parts"]

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
MISSING = 'the dask engine needs dask and distributed: pip install "normcli[dask]"'


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(MISSING) from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at `scheduler` (else $DASK_SCHEDULER_ADDRESS), or of a
    LocalCluster of `workers` processes started for this run and shut down on every path."""
    distributed = _distributed()
    address = scheduler or (None if workers else os.environ.get(SCHEDULER_ENV))
    if address and workers:
        raise UsageError.about("{scheduler} and {workers} both given; connect to a cluster or start one, not both")
    if not address and not workers:
        raise UsageError.about("{engine} dask needs {scheduler} ADDRESS (or {env}) or {workers} N", env=SCHEDULER_ENV)
    cluster = None
    with contextlib.ExitStack() as stack:
        if address:
            try:
                client = distributed.Client(address, timeout=10, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise DataError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        else:
            # Each worker's nanny sets OMP_NUM_THREADS=1 and others in this process's environment
            # before it spawns the worker, and leaves them: put the environment back when done, so
            # that a program that runs normcli.cli.main (or a test) keeps its own thread counts.
            stack.callback(_restore_environ, dict(os.environ))
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # its HTTP server starts anyway: a free local port
                silence_logs=logging.CRITICAL,  # a failed task is reported once, by the client
            )
            stack.callback(cluster.close)
            client = distributed.Client(cluster, set_as_default=False)
        stack.callback(client.close)
        check_versions(client, address or "the local cluster")
        yield client


def _restore_environ(saved: dict[str, str]) -> None:
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _worker_version() -> str:
    from normcli import __version__

    return __version__


def check_versions(client: Any, where: str) -> None:
    """Every worker must run this normcli version (a task pickles our functions and data)."""
    from normcli import __version__

    try:
        versions = client.run(_worker_version)
    except Exception as exc:  # a worker without normcli cannot even load the function
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"a worker of {where} cannot run normcli ({reason}); install normcli {__version__} there"
        ) from None
    if not versions:
        raise DataError(f"{where} has no workers; start some with `dask worker ADDRESS`")
    for worker, version in sorted(versions.items()):
        if version != __version__:
            raise DataError(
                f"worker {worker} runs normcli {version}, this client {__version__}; install the same version on both"
            )


# --- tasks (run on the workers) ------------------------------------------------------------------


def _open(part: Part, fmt: str, reader_options: dict[str, Any]) -> Any:
    """The part's reader on a worker: by its absolute path (a worker's working folder is its
    own), named in messages as the user named it."""
    from normcli.io.readers import open_reader

    reader = open_reader(part.path, fmt, **reader_options)
    reader.label = part.label
    return reader


def fit_task(
    piece: Piece,
    fmt: str,
    plans: list[ColumnPlan],
    names: list[str],
    numeric: list[str],
    first: str,
    reader_options: dict[str, Any] | None = None,
) -> tuple[ScalerFitter, int, dict[str, Histogram]]:
    """The partial statistics of one piece of a part, its row count and its columns' histograms."""
    fitter = ScalerFitter(plans, names)
    hists = {p.name: Histogram() for p in plans}
    rows = 0
    reader, closer = open_piece(piece, fmt, reader_options or {})
    try:
        wanted = [p.name for p in plans]
        check_part(reader, names, numeric, first, wanted)
        for batch in reader.batches(columns=wanted):
            x = {p.name: batch.numeric(p.name) for p in plans}
            fitter.update(x)
            for name, h in hists.items():
                h.update(x[name])
            rows += batch.num_rows
    finally:
        closer.close()
    return fitter, rows, hists


def transform_task(
    part: Part, fmt: str, reader_options: dict[str, Any], root: str, out_format: str, output: str,
    scaler: Scaler, names: list[str], numeric: list[str], first: str, apply_options: dict[str, Any],
) -> ApplyResult:  # fmt: skip
    """Transform one part into `root`/<its name>; return its statistics."""
    with _open(part, fmt, reader_options) as reader:
        check_part(reader, names, numeric, first)
        target = output_part_name(part.relpath, out_format)
        with open_part_writer(root, target, out_format, output) as writer:
            return apply_stream(reader, writer, scaler, **apply_options)


# --- the client side -----------------------------------------------------------------------------


def _gather_in_order(client: Any, futures: list[Any], sizes: list[int], label: str, progress: Progress | None) -> list:
    """The results of `futures` in part order. The first failure cancels the others and is
    raised; Ctrl-C cancels them all too."""
    distributed = _distributed()
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    done_bytes = 0
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            i = index[future.key]
            results[i] = future.result()  # raises the task's own error (a DataError names its part)
            done_bytes += sizes[i]
            if progress:
                progress(label, done_bytes, sum(sizes))
    except BaseException:
        client.cancel(futures)
        raise
    return results


def fit_parts(
    client: Any,
    dataset: Dataset,
    plans: list[ColumnPlan],
    names: list[str],
    numeric: list[str],
    first: str,
    layout: Layout | None,
    input_columns: list[str],
    progress: Progress | None = None,
    reader_options: dict[str, Any] | None = None,
) -> FitResult:
    """Fit over the parts, one task each, merged on the client in part order. `names` are
    the columns of every part; `input_columns` add the hive keys, as the scaler records them."""
    pieces = split_parts([_absolute(p) for p in dataset.parts], dataset.format)
    futures = [
        client.submit(
            fit_task,
            piece,
            dataset.format,
            plans,
            names,
            numeric,
            first,
            reader_options,
            key=f"normcli-fit-{i}-{piece.label}",
        )
        for i, piece in enumerate(pieces)
    ]
    sizes = [p.size for p in pieces]
    partials = _gather_in_order(client, futures, sizes, dataset.label, progress)
    fitter = ScalerFitter(plans, input_columns, layout)
    rows = 0
    hists = {p.name: Histogram() for p in plans}
    for partial, n, part_hists in partials:  # in part order, as the local engine reads them
        fitter.merge(partial)
        rows += n
        hists = {name: h.merge(part_hists[name]) for name, h in hists.items()}
    if rows == 0:
        raise DataError(f"{dataset.label} has no data rows")
    result = with_histograms(fitter.finish(), hists)
    result.rows = rows
    return result


def profile_parts(
    client: Any,
    dataset: Dataset,
    names: list[str],
    file_names: list[str],
    numeric: list[str],
    progress: Progress | None = None,
    reader_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`stats` of the columns `names` over the dataset: a profile per piece, merged on the
    client in part order. `file_names`: the columns of every part (the hive keys are not);
    `reader_options`: the CSV dialect options, for every part's reader."""
    pieces = split_parts([_absolute(p) for p in dataset.parts], dataset.format)
    first = dataset.parts[0].label
    futures = [
        client.submit(
            profile_task,
            piece,
            dataset.format,
            dataset.key_names,
            file_names,
            numeric,
            first,
            names,
            reader_options or {},
            key=f"normcli-stats-{i}-{piece.label}",
        )  # fmt: skip
        for i, piece in enumerate(pieces)
    ]
    partials = _gather_in_order(client, futures, [p.size for p in pieces], dataset.label, progress)
    return merge_profiles(partials)


def transform_parts(
    client: Any,
    dataset: Dataset,
    output: str,
    out_format: str,
    scaler: Scaler,
    reader_options: dict[str, Any],
    names: list[str],
    numeric: list[str],
    first: str,
    *,
    overwrite: bool,
    merge: Callable[[list[ApplyResult]], ApplyResult],
    progress: Progress | None = None,
    **apply_options: Any,
) -> ApplyResult:
    """Transform each part in its own task into `output`/, all or nothing."""
    with atomic_directory(output, overwrite=overwrite) as root:
        parts = [_absolute(p) for p in dataset.parts]
        futures = [
            client.submit(
                transform_task,
                part,
                dataset.format,
                reader_options,
                root,
                out_format,
                output,
                scaler,
                names,
                numeric,
                first,
                apply_options,
                key=f"normcli-transform-{i}-{part.label}",
                pure=False,
            )
            for i, part in enumerate(parts)
        ]
        sizes = [_size(p.path) for p in dataset.parts]
        results = _gather_in_order(client, futures, sizes, dataset.label, progress)
    return merge(results)


def _absolute(part: Part) -> Part:
    if "://" in part.path:  # a URL: the same on every machine
        return part
    return dataclasses.replace(part, path=os.path.abspath(part.path), label=part.label)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
