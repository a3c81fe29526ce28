"""What the commands show people: rich tables on stderr (or stdout for `stats`), warnings,
and the same numbers as JSON for machines."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from normcli.methods import Counters
from normcli.stats import ChannelStats, ColumnStats

__all__ = [
    "before_after_json",
    "before_after_table",
    "lrn_stats_json",
    "lrn_table",
    "console",
    "most_changed",
    "methods_table",
    "stats_json",
    "stats_table",
    "warn",
]

STAT_COLUMNS = ("count", "nulls", "mean", "std", "min", "max")


def console(stream: TextIO | None = None) -> Console:
    """A console on stderr (default) that never colours a file or a pipe and is wide
    enough for the tables when it is not a terminal."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    return Console(file=stream, highlight=False, width=None if tty else 120, no_color=not tty, soft_wrap=False)


def warn(con: Console, message: str) -> None:
    con.print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False)


def fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "-"
    return f"{value:.6g}"


def _stat_cells(s: ColumnStats) -> list[str]:
    d = s.summary()
    cells = [fmt(s.count), fmt(s.nulls + s.infs) if s.infs else fmt(s.nulls)]
    if s.count and abs(s.mean) < 1e-12 * max(abs(s.min), abs(s.max)):
        d["mean"] = 0.0  # rounding noise of an exactly centred column (-2.7e-17) reads as 0
    return cells + [fmt(d[k]) for k in ("mean", "std", "min", "max")]


def before_after_table(
    title: str,
    before: Mapping[str, ColumnStats],
    after: Mapping[str, ColumnStats],
    methods: Mapping[str, str],
) -> Table:
    """One row for the column before and one after, so the two read against each other."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("column", style="bold")
    table.add_column("method")
    table.add_column("")
    for name in STAT_COLUMNS:
        table.add_column(name, justify="right")
    for i, name in enumerate(before):
        table.add_row(name, methods.get(name, ""), "before", *_stat_cells(before[name]), end_section=False)
        table.add_row("", "", "after", *_stat_cells(after[name]), end_section=i < len(before) - 1)
    return table


def lrn_table(title: str, rows: list[tuple[str, ColumnStats, int, ColumnStats, int]]) -> Table:
    """Before/after rows of an LRN: (label, stats before, zeros before, stats after, zeros after)."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("channel", style="bold")
    table.add_column("")
    for name in ("count", "mean", "std", "min", "max", "zeros"):
        table.add_column(name, justify="right")
    for i, (name, before, zb, after, za) in enumerate(rows):
        for stage, s, zeros in (("before", before, zb), ("after", after, za)):
            cells = _stat_cells(s)
            share = f"{zeros / (s.count + s.nulls + s.infs):.1%}" if s.count + s.nulls + s.infs else "-"
            table.add_row(
                name if stage == "before" else "",
                stage,
                cells[0],
                *cells[2:],
                share,
                end_section=stage == "after" and i < len(rows) - 1,
            )
    return table


def counter_notes(counters: Mapping[str, Counters]) -> list[str]:
    """Sentences for what a transform had to do to some values."""
    notes = []
    for name, c in counters.items():
        if c.out_of_range:
            notes.append(f"column {name!r}: {c.out_of_range:,} value(s) outside the fitted range (kept)")
        if c.clipped:
            notes.append(f"column {name!r}: {c.clipped:,} value(s) outside the fitted range were clipped")
        if c.invalid:
            notes.append(f"column {name!r}: {c.invalid:,} value(s) outside the method's domain became NaN")
    return notes


def stats_table(title: str, stats: Mapping[str, ColumnStats]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("column", style="bold")
    for name in STAT_COLUMNS:
        table.add_column(name, justify="right")
    infs = any(s.infs for s in stats.values())
    if infs:
        table.add_column("inf", justify="right")
    for name, s in stats.items():
        cells = _stat_cells(s)
        cells[1] = fmt(s.nulls)
        table.add_row(name, *cells, *([fmt(s.infs)] if infs else []))
    return table


class _Names(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return key


def methods_table(methods: Mapping[str, Any], names: Mapping[str, str]) -> Table:
    """The methods' formulas, with their options called by `names` (the CLI's flags)."""
    table = Table(show_edge=False, pad_edge=False)
    for col in ("method", "forward y =", "inverse x =", "fitted", "domain"):
        table.add_column(col)
    for m in methods.values():
        texts = (m.forward_text, m.inverse_text, m.fitted_text, m.domain_text)
        table.add_row(m.name, *(text.format_map(_Names(names)) for text in texts))
    return table


def stats_json(stats: Mapping[str, ColumnStats]) -> dict[str, Any]:
    return {name: s.summary() for name, s in stats.items()}


def before_after_json(
    command: str,
    source: str,
    rows: int | None,
    before: Mapping[str, ColumnStats],
    after: Mapping[str, ColumnStats],
    methods: Mapping[str, str],
    counters: Mapping[str, Counters] | None = None,
) -> dict[str, Any]:
    columns = {}
    for name in before:
        entry: dict[str, Any] = {"method": methods.get(name), "before": before[name].summary()}
        entry["after"] = after[name].summary()
        if counters and name in counters:
            c = counters[name]
            entry["counters"] = {"out_of_range": c.out_of_range, "clipped": c.clipped, "invalid": c.invalid}
        columns[name] = entry
    return {"command": command, "input": source, "rows": rows, "columns": columns}


def most_changed(before: ChannelStats, after: ChannelStats, k: int = 5) -> list[int]:
    """The `k` channels whose root-mean-square changed by the largest factor."""

    def rms(s: ColumnStats) -> float:
        # hypot, not sqrt(mean**2 + std**2): a Python float's ** raises OverflowError past 1e154
        return math.hypot(s.mean, s.std()) if s.count else 0.0

    def change(c: int) -> float:
        a, b = rms(before.stats[c]), rms(after.stats[c])
        if a == 0 or b == 0 or not math.isfinite(a) or not math.isfinite(b):
            return 0.0 if a == b else math.inf
        return abs(math.log(b / a))

    return sorted(range(len(before.stats)), key=change, reverse=True)[:k]


def lrn_stats_json(
    source: str,
    shape: tuple[int, ...],
    dtype: str,
    spec_lines: list[str],
    overflow: int,
    before: ChannelStats,
    after: ChannelStats,
) -> dict[str, Any]:
    """The statistics of an LRN, overall and per channel, before and after, for `--stats-json`."""

    def entry(s: ColumnStats, zeros: int) -> dict[str, Any]:
        return {**s.summary(), "zeros": zeros}

    return {
        "command": "lrn",
        "input": source,
        "shape": list(shape),
        "dtype": dtype,
        "spec": spec_lines,
        "overflow": overflow,
        "overall": {
            "before": entry(before.overall, before.overall_zeros),
            "after": entry(after.overall, after.overall_zeros),
        },
        "channels": [
            {"channel": c, "before": entry(b, zb), "after": entry(a, za)}
            for c, (b, zb, a, za) in enumerate(zip(before.stats, before.zeros, after.stats, after.zeros, strict=True))
        ],
    }


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"
