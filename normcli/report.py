"""What the commands show people: rich tables on stderr (or stdout for `stats`), warnings,
and the same numbers as JSON for machines."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from normcli.methods import Counters
from normcli.stats import ColumnStats
from normcli.untrusted import visible

__all__ = [
    "before_after_json",
    "before_after_table",
    "bn_stats_table",
    "channel_stats_json",
    "lrn_table",
    "console",
    "literal",
    "methods_table",
    "stats_json",
    "stats_table",
    "warn",
]

STAT_COLUMNS = ("count", "nulls", "mean", "std", "min", "max")


class LiteralConsole(Console):
    """A console that shows every string it is given literally. Names, paths and values come
    from the user's files: `[red]x[/red]`, `[/]`, `:thumbs_up:` or `[link=...]` in them are text,
    not markup, emoji or hyperlinks, and control characters are shown as escapes (`\\x1b`), so
    nothing in the data reaches the terminal as a command and no cell spans two lines.

    Strings are escaped before rich measures them (`render_str`: table cells, titles, headers),
    so tables stay aligned. As a safety net for `Text` objects built elsewhere without
    `literal()`, `render` escapes any control character left in the text it emits; rich's own
    control segments (cursor moves of a progress bar) pass untouched."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(visible(text), **kwargs)

    def render(self, renderable: Any, options: Any = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and segment.text != "\n" and not segment.text.isprintable():
                lines = segment.text.split("\n")
                segment = Segment("\n".join(visible(line) for line in lines), segment.style)
            yield segment


def literal(text: str, style: str = "") -> Text:
    """Untrusted text as a rich `Text` cell: no markup, no emoji, control characters escaped."""
    return Text(visible(text), style=style)


def console(stream: TextIO | None = None) -> Console:
    """A console on stderr (default) that never colours a file or a pipe, is wide enough for
    the tables when it is not a terminal, and shows untrusted text literally (LiteralConsole)."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    return LiteralConsole(
        file=stream,
        highlight=False,
        markup=False,
        emoji=False,
        width=None if tty else 120,
        no_color=not tty,
        soft_wrap=False,
    )


def warn(con: Console, message: str) -> None:
    """`warning: message` with the message shown literally (it quotes names from the data)."""
    con.print(Text.assemble(("warning:", "yellow"), " ", literal(message)), highlight=False)


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
    cells = [fmt(d["count"]), fmt(d["nulls"] + d["infs"]) if d["infs"] else fmt(d["nulls"])]
    if d["mean"] is not None and abs(d["mean"]) < 1e-12 * max(abs(d["min"]), abs(d["max"])):
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


def lrn_table(title: str, rows: list[tuple[str, ColumnStats, int, ColumnStats, int]], label: str = "channel") -> Table:
    """Before/after rows of an LRN (or a norm): (label, stats before, zeros before, stats after,
    zeros after). `label` names what a row is: a channel, or a feature for layer/rms."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column(label, style="bold")
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


def methods_table(methods: Mapping[str, Any]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("method", "forward y =", "inverse x =", "fitted", "domain"):
        table.add_column(col)
    for m in methods.values():
        table.add_row(m.name, m.forward_text, m.inverse_text, m.fitted_text, m.domain_text)
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


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def channel_stats_json(before: Any, after: Any, label: str = "channel") -> dict[str, Any]:
    """Overall and per-channel statistics before and after (two `ChannelStats`), as the
    `overall` and `channels` entries of a --stats-json file."""
    return {
        "overall": {
            "before": {**before.overall.summary(), "zeros": before.overall_zeros},
            "after": {**after.overall.summary(), "zeros": after.overall_zeros},
        },
        "channels": [
            {label: c, "before": {**b.summary(), "zeros": zb}, "after": {**a.summary(), "zeros": za}}
            for c, (b, zb, a, za) in enumerate(zip(before.stats, before.zeros, after.stats, after.zeros, strict=True))
        ],
    }


BN_STATS_ROWS = 32  # channels shown by bn-stats; --stats-json has them all


def bn_stats_table(title: str, arrays: Mapping[str, Any]) -> Table:
    """One row per channel of what `bn-stats` wrote: the per-channel arrays side by side."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("channel", style="bold", justify="right")
    names = [n for n, a in arrays.items() if getattr(a, "ndim", 0) == 1]
    for name in names:
        table.add_column(name, justify="right")
    channels = len(arrays[names[0]]) if names else 0
    for c in range(min(channels, BN_STATS_ROWS)):
        table.add_row(str(c), *(fmt(float(arrays[n][c])) for n in names))
    if channels > BN_STATS_ROWS:
        table.add_row("...", *("" for _ in names))
        table.caption = f"(the first {BN_STATS_ROWS} of {channels} channels; --stats-json writes every one)"
        table.caption_justify = "left"
    return table
