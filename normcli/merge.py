"""Merge scalers fitted on disjoint shards of the same columns into the scaler of their union.

The moment methods (minmax, zscore, scale, maxabs, log, atan, reciprocal) merge exactly: their
column statistics merge by Chan's formula and the method refits from them. robust and quantile
merge their stored sketches and refit from the merged sketch, within its stated rank error.
The power transforms cannot: lambda of the union is not a function of the shards' lambdas.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

from normcli.errors import DataError, UsageError
from normcli.methods_more import SummaryMethod
from normcli.scaler import ColumnScaler, Scaler
from normcli.stats import ColumnStats

__all__ = ["merge_scalers"]


def merge_scalers(scalers: Sequence[Scaler], sources: Sequence[str]) -> Scaler:
    """The scaler of the union of the shards `scalers` were fitted on (in the order given);
    `sources` name them in errors. Raises DataError for scalers that do not fit together."""
    if len(scalers) < 2:
        raise UsageError("merge needs two or more scaler files")
    first, where = scalers[0], sources[0]
    for scaler, source in zip(scalers[1:], sources[1:], strict=True):
        _check_alike(first, where, scaler, source)
    columns = [_merge_column([s[name] for s in scalers]) for name in first.names]
    return Scaler(columns, first.input_columns, first.layout)


def _check_alike(a: Scaler, a_source: str, b: Scaler, b_source: str) -> None:
    def differ(what: str, x: Any, y: Any) -> DataError:
        return DataError(f"{b_source} {what} {y!r}, but {a_source} {x!r}; merge scalers fitted alike on shards")

    if a.names != b.names:
        raise differ("scales columns", a.names, b.names)
    if a.input_columns != b.input_columns:
        raise differ("was fitted on columns", a.input_columns, b.input_columns)
    if a.layout.to_dict() != b.layout.to_dict():
        raise differ("has layout", a.layout.to_dict(), b.layout.to_dict())
    for ca in a.columns:
        cb = b[ca.name]
        if ca.method != cb.method:
            raise differ(f"scales column {ca.name!r} with", ca.method, cb.method)
        if ca.options != cb.options:
            raise differ(f"has column {ca.name!r} options", ca.options, cb.options)


def _merge_column(parts: list[ColumnScaler]) -> ColumnScaler:
    head = parts[0]
    method, options, name = head.impl, head.options, head.name
    stats: ColumnStats = reduce(lambda x, y: x.merge(y), (p.stats for p in parts))
    if isinstance(method, SummaryMethod):
        if not method.mergeable:
            raise DataError(
                f"column {name!r} uses {method.name}, whose lambda cannot be merged from shards; "
                "refit it on the whole data"
            )
        if any(p.summary is None for p in parts):
            raise DataError(f"column {name!r}: a scaler file keeps no sketch of it to merge; refit that shard")
        sketches = [method.summary_from_record(p.summary) for p in parts if p.summary is not None]
        sketch = reduce(lambda x, y: x.merge(y), sketches)
        fitted = method.fit_summary(name, stats, sketch, options)
        return ColumnScaler(name, method.name, options, fitted, stats, method.record(sketch))
    if method.nonlinear:
        # the only fitted value of a nonlinear moment method is log's max (with normalize)
        fitted = {key: max(p.fitted[key] for p in parts) for key in method.fitted_keys(options)}
    else:
        fitted = method.fit(name, stats, stats, options)
    return ColumnScaler(name, method.name, options, fitted, stats)
