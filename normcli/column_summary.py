"""What a scaler keeps of a column beyond its moments, and how a scaler file's copy is checked.

The fitter gives robust and quantile a QuantileSketch per column and the power transforms a
ValueSample; the scaler file keeps the sketch (compacted) and the sample's note, and, for
every method, the column's moments at full precision so that shards merge exactly. The checks
raise ValueError with the fault in words; scaler.py adds the file and the column to it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from normcli.methods import Method
from normcli.methods_more import SummaryMethod
from normcli.power import ValueSample
from normcli.sketch import DEFAULT_K, QuantileSketch
from normcli.stats import ColumnStats

__all__ = ["MOMENTS", "approximation_notes", "checked_summary", "moments_of", "summary_for", "with_moments"]

MOMENTS = ("shift", "dmean", "m2", "unit")


def summary_for(method: Method, limit: int) -> Any:
    """What the fitter gathers for `method` beyond moments, exact up to `limit` values (None: nothing)."""
    if method.needs == "quantiles":
        return QuantileSketch(DEFAULT_K, limit)
    if method.needs == "values":
        return ValueSample(limit)
    return None


def approximation_notes(name: str, method: Method, summary: Any) -> list[str]:
    """What the fit approximated because the column outgrew the memory budget."""
    if isinstance(summary, QuantileSketch) and not summary.exact:
        return [
            f"column {name!r}: {summary.count} values exceed the memory budget; {method.name} was fitted on a "
            f"quantile sketch with rank error at most {summary.rank_error:.3g} (more memory keeps them exact)"
        ]
    if isinstance(summary, ValueSample) and not summary.exact:
        return [
            f"column {name!r}: {summary.count} values exceed the memory budget; {method.name} was fitted on a "
            f"random sample of {summary.limit} (seed {summary.seed})"
        ]
    return []


def moments_of(stats: ColumnStats) -> dict[str, float] | None:
    """The moments as the fitter holds them (mean = (shift + dmean) * unit): the mean alone is
    rounded for a column at 1e9, and merged shards would lose that precision."""
    if not stats.count:
        return None
    return {"shift": stats.shift, "dmean": stats.dmean, "m2": stats.m2, "unit": stats.unit}


def with_moments(stats: ColumnStats, moments: dict[str, float]) -> ColumnStats:
    """`stats` (read from a summary) with the exact `moments` a version 2 file keeps."""
    if moments["m2"] < 0 or moments["unit"] <= 0:
        raise ValueError("must have m2 >= 0 and unit > 0")
    mean = (moments["shift"] + moments["dmean"]) * moments["unit"]
    if not math.isclose(mean, stats.mean, rel_tol=1e-9, abs_tol=1e-300):
        raise ValueError(f"give mean {mean!r}, but stats say {stats.mean!r}")
    return replace(stats, shift=moments["shift"], dmean=moments["dmean"], m2=moments["m2"], unit=moments["unit"])


def checked_summary(method: Method, record: dict[str, Any] | None, stats: ColumnStats) -> dict[str, Any] | None:
    """A column's summary record, checked: a sketch whose count is the column's, or a sample note."""
    if not isinstance(method, SummaryMethod):
        if record is not None:
            raise ValueError(f"has a 'summary', which {method.name} does not keep")
        return None
    if record is None:
        return None  # a merge will say it cannot merge without one
    try:
        sketch = method.summary_from_record(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"summary is malformed ({type(exc).__name__}: {exc})") from None
    if sketch is not None:
        error = record.get("rank_error")
        if isinstance(error, bool) or not isinstance(error, int | float) or not 0 <= error <= 1:
            raise ValueError(f"summary rank_error must be a number between 0 and 1, not {error!r}")
        if sketch.count != stats.count:
            raise ValueError(f"summary holds {sketch.count} values but stats count {stats.count}")
    return record
