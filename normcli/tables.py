"""Tables that fit the terminal: numbers are never cut, names wrap.

A `Grid` is a report as data: records (one per column of the input), each with a name, a few
tags (its method, say) and one or more lines of statistic cells (before and after). `render`
lays it out for a width: one wide table when it fits; else the statistics split over as many
tables as needed, each repeating the names; else, on a very narrow terminal, one small block
per record (statistics down, stages across). A number cell is never wrapped or shortened:
its column is always as wide as its longest cell. Every cell is a rich `Text`, never markup,
so a column called "[red]x" is printed as written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from normcli.untrusted import visible

__all__ = ["Grid", "Record", "render", "report_width"]

# The name column shrinks to this before statistics are split over more tables.
NAME_MIN = 10
GAP = 3  # " │ " between two columns (tables have no outer edge and no edge padding)


def _literal(text: str, style: str = "") -> Text:
    """A cell of untrusted text (a column name, a value): control characters escaped, so a
    name holding a line break or an ESC sequence cannot break the table or the terminal."""
    return Text(visible(text), style=style)


@dataclass
class Record:
    """One row group: `name` (wraps), `tags` (short cells after it), and `lines` of
    (stage label, statistic cells), one line per stage."""

    name: str
    tags: list[str] = field(default_factory=list)
    lines: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class Grid:
    title: str | None
    name_header: str
    tag_headers: list[str]
    stage_header: str | None  # None: records have one line and no stage column
    stat_headers: list[str]
    records: list[Record]
    text_headers: set[str] = field(default_factory=set)  # statistics that are text (left-aligned)


def report_width(con: Console) -> int:
    """The width to lay reports out for: $COLUMNS when set (also when stderr is a file or a
    pipe), else the terminal's (or the console's default off a terminal)."""
    value = os.environ.get("COLUMNS", "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    return con.width


def _width(cells: Sequence[str], header: str) -> int:
    return max([cell_len(header), *(cell_len(c) for c in cells)])


def _stat_widths(grid: Grid) -> list[int]:
    return [_width([line[1][j] for r in grid.records for line in r.lines], h) for j, h in enumerate(grid.stat_headers)]


def _lead_widths(grid: Grid) -> tuple[int, list[int]]:
    """(the name column's natural width, the widths of the tag and stage columns)."""
    name = _width([r.name for r in grid.records], grid.name_header)
    fixed = [
        _width([r.tags[i] if i < len(r.tags) else "" for r in grid.records], h) for i, h in enumerate(grid.tag_headers)
    ]
    if grid.stage_header is not None:
        fixed.append(_width([line[0] for r in grid.records for line in r.lines], grid.stage_header))
    return name, fixed


def _pack(widths: list[int], room: int) -> list[list[int]] | None:
    """Statistic columns (by index) grouped in order so each group fits in `room`; None when
    one column alone does not."""
    groups: list[list[int]] = []
    used = 0
    for j, w in enumerate(widths):
        if w > room:
            return None
        if groups and used + GAP + w <= room:
            groups[-1].append(j)
            used += GAP + w
        else:
            groups.append([j])
            used = w
    return groups


def render(grid: Grid, width: int) -> list[RenderableType]:
    """The grid laid out for `width` columns of text, as renderables to print in order."""
    stat_widths = _stat_widths(grid)
    name_w, fixed = _lead_widths(grid)
    lead_fixed = sum(fixed) + GAP * len(fixed)
    all_stats = sum(stat_widths) + GAP * (len(stat_widths) - 1)
    # when statistics will be split over tables, or names wrap, names get a fair share first
    fits = name_w + lead_fixed + GAP + all_stats <= width
    name_room = name_w if fits else min(name_w, max(NAME_MIN, width // 4))
    room = width - name_room - lead_fixed - GAP
    groups = _pack(stat_widths, room) if stat_widths else [[]]
    if groups is None or (len(groups) > 1 and min(name_w, NAME_MIN) + lead_fixed > width // 2):
        return _blocks(grid, stat_widths)
    out: list[RenderableType] = []
    for k, group in enumerate(groups):
        used = sum(stat_widths[j] for j in group) + GAP * max(len(group) - 1, 0)
        name_max = max(min(name_w, width - lead_fixed - GAP - used), 1) if group else min(name_w, width - lead_fixed)
        title = grid.title if k == 0 else None
        out.append(_wide_table(grid, group, stat_widths, name_max, title))
    return out


def _table(title: str | None) -> Table:
    return Table(
        title=_literal(title) if title is not None else None,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        collapse_padding=False,
    )


def _wide_table(grid: Grid, group: list[int], stat_widths: list[int], name_max: int, title: str | None) -> Table:
    table = _table(title)
    table.add_column(_literal(grid.name_header), style="bold", overflow="fold", max_width=name_max)
    for h in grid.tag_headers:
        table.add_column(_literal(h), no_wrap=True)
    if grid.stage_header is not None:
        table.add_column(_literal(grid.stage_header), no_wrap=True)
    for j in group:
        h = grid.stat_headers[j]
        left = h in grid.text_headers
        table.add_column(_literal(h), justify="left" if left else "right", no_wrap=True, min_width=stat_widths[j])
    last = len(grid.records) - 1
    for i, rec in enumerate(grid.records):
        for n, (stage, cells) in enumerate(rec.lines):
            lead = [_literal(rec.name), *(_literal(t) for t in _padded(rec.tags, len(grid.tag_headers)))]
            if n:
                lead = [_literal("") for _ in lead]
            stage_cell = [_literal(stage)] if grid.stage_header is not None else []
            end = len(rec.lines) > 1 and n == len(rec.lines) - 1 and i < last
            table.add_row(*lead, *stage_cell, *(_literal(cells[j]) for j in group), end_section=end)
    return table


def _padded(tags: list[str], n: int) -> list[str]:
    return (tags + [""] * n)[:n]


def _blocks(grid: Grid, stat_widths: list[int]) -> list[RenderableType]:
    """One block per record: its name (and tags) on a line, then statistics down, stages across."""
    out: list[RenderableType] = []
    if grid.title is not None:
        out.append(_literal(grid.title))
    for rec in grid.records:
        head = _literal(rec.name, style="bold")
        tags = [t for t in rec.tags if t]
        if tags:
            head.append(" (" + ", ".join(tags) + ")")
        out.append(head)
        table = _table(None)
        table.add_column(_literal(""), no_wrap=True)
        stages = [stage or "value" for stage, _ in rec.lines]
        for k, stage in enumerate(stages):
            cells = [rec.lines[k][1][j] for j in range(len(grid.stat_headers))]
            table.add_column(_literal(stage), justify="right", no_wrap=True, min_width=_width(cells, stage))
        for j, h in enumerate(grid.stat_headers):
            table.add_row(_literal(h), *(_literal(cells[j]) for _, cells in rec.lines))
        out.append(table)
    return out
