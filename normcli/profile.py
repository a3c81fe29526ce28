"""What `normcli stats` tells about a column, as mergeable summaries (pure NumPy, no I/O).

A numeric column: the moments (`ColumnStats`) and its quantiles (`QuantileSketch`, exact
within a memory budget). A text, date or boolean column: count, nulls, distinct values, the
most common one and, where values are ordered (dates), the smallest and largest.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from normcli.sketch import Histogram, QuantileSketch, ValueCounts, summarize
from normcli.stats import ColumnStats

__all__ = ["QUANTILES", "NumericProfile", "ValueProfile"]

# (label, q): the quantiles `stats` reports
QUANTILES: tuple[tuple[str, float], ...] = (("p1", 0.01), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p99", 0.99))


@dataclass
class NumericProfile:
    stats: ColumnStats = field(default_factory=ColumnStats)
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    histogram: Histogram = field(default_factory=Histogram)

    kind = "number"

    def update(self, values: np.ndarray) -> None:
        # one pass to set NaN and infinities apart, and one for the min and max, serve all three
        self.stats = self.stats.merge(summarize(values, self.histogram, self.sketch))

    def summary(self, ddof: int) -> dict[str, Any]:
        """The JSON of one numeric column: the moments (std with `ddof`) and the quantiles."""
        d: dict[str, Any] = {"type": self.kind, **self.stats.summary()}
        std = self.stats.std(ddof)
        d["std"] = std if math.isfinite(std) else None
        d["ddof"] = ddof
        values = self.sketch.quantiles([q for _, q in QUANTILES])
        for (label, _), v in zip(QUANTILES, values, strict=True):
            d[label] = v if math.isfinite(v) else None
        d["quantile_rank_error"] = self.sketch.rank_error
        d["histogram"] = self.histogram.summary()
        return d


@dataclass
class ValueProfile:
    """A column of text, dates or booleans: `kind` is "text", "date" or "bool"."""

    kind: str
    nulls: int = 0
    counts: ValueCounts = field(default_factory=ValueCounts)
    min: Any = None
    max: Any = None
    ordered: bool = False  # whether min and max mean something (dates)

    def update(self, values: Sequence[Hashable], counts: Sequence[int], nulls: int) -> None:
        self.nulls += nulls
        self.counts.update(values, counts)
        if self.ordered and values:
            lo, hi = min(values), max(values)  # type: ignore[type-var]
            self.min = lo if self.min is None else min(self.min, lo)
            self.max = hi if self.max is None else max(self.max, hi)

    @property
    def count(self) -> int:
        return self.counts.count

    def summary(self) -> dict[str, Any]:
        top = self.counts.most_common()
        d: dict[str, Any] = {
            "type": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "distinct": self.counts.distinct,
            "distinct_is_lower_bound": self.counts.overflowed,
            "most_common": _plain(top[0]) if top else None,
            "most_common_count": top[1] if top else None,
        }
        if self.ordered:
            d["min"], d["max"] = _plain(self.min), _plain(self.max)
        return d


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: dates and times as ISO 8601 text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    iso = getattr(value, "isoformat", None)
    return iso() if iso is not None else str(value)
