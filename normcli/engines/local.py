"""The local engine: the parts of a dataset one after another in this process.

A fit or a statistics pass over a dataset is the ordinary streaming pass over a
`DatasetReader` (the parts chained), so it equals the fit over their concatenation. A
transform into a directory writes one output part per input part, inside a temporary folder
renamed into place when every part has succeeded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from normcli.io.dataset import Dataset, atomic_directory, open_part_writer, output_part_name
from normcli.io.readers import Reader
from normcli.pipeline import ApplyResult, Progress, apply_stream
from normcli.scaler import Scaler

__all__ = ["merge_apply_results", "transform_to_directory"]


def merge_apply_results(results: list[ApplyResult]) -> ApplyResult:
    """The results of the parts as one, merged in part order."""
    total = ApplyResult()
    for r in results:
        for name, s in r.before.items():
            total.before[name] = total.before[name].merge(s) if name in total.before else s
        for name, s in r.after.items():
            total.after[name] = total.after[name].merge(s) if name in total.after else s
        for name, c in r.counters.items():
            if name in total.counters:
                total.counters[name].add(c)
            else:
                total.counters[name] = c
        for name, (b, a) in r.sketches.items():
            if name in total.sketches:
                tb, ta = total.sketches[name]
                total.sketches[name] = (tb.merge(b), ta.merge(a))
            else:
                total.sketches[name] = (b, a)
        total.rows += r.rows
        total.warnings.extend(w for w in r.warnings if w not in total.warnings)
    total.histograms = {n: {"before": b.summary(), "after": a.summary()} for n, (b, a) in total.sketches.items()}
    return total


def transform_to_directory(
    dataset: Dataset,
    output: str,
    out_format: str,
    scaler: Scaler,
    open_part: Callable[[str], Reader],
    *,
    overwrite: bool,
    dtype: np.dtype,
    inverse: bool = False,
    precision: int | None = None,
    with_stats: bool = True,
    progress: Progress | None = None,
) -> ApplyResult:
    """Transform each part into `output`/<its relative name>, all or nothing."""
    results = []
    with atomic_directory(output, overwrite=overwrite) as folder:
        for part in dataset.parts:
            target = output_part_name(part.relpath, out_format)
            with open_part(part.path) as reader, open_part_writer(folder, target, out_format, output) as writer:
                results.append(
                    apply_stream(
                        reader,
                        writer,
                        scaler,
                        inverse=inverse,
                        dtype=dtype,
                        precision=precision,
                        with_stats=with_stats,
                        progress=progress,
                    )
                )
    return merge_apply_results(results)
