"""What the commands show people: rich tables on stderr (or stdout for `stats`), warnings,
and the same numbers as JSON for machines."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from rich.console import Console, Group
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from normcli.methods import Counters
from normcli.sketch import resample
from normcli.stats import ChannelStats, ColumnStats
from normcli.tables import Grid, Record, render, report_width
from normcli.untrusted import visible

__all__ = [
    "before_after_grid",
    "before_after_json",
    "before_after_table",
    "bn_stats_table",
    "channel_stats_json",
    "console",
    "default_report",
    "drift_grid",
    "fmt",
    "hist_fits",
    "layout",
    "literal",
    "lrn_grid",
    "lrn_stats_json",
    "most_changed",
    "methods_table",
    "quantile_note",
    "scaler_grid",
    "stats_grids",
    "stats_rows",
    "spark",
    "summary_grid",
    "warn",
    "wide_console",
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


SIGNIFICANT = 5  # digits of every statistic in a table; the JSON keeps them all


def fmt(value: float | int | None) -> str:
    """A statistic for a table cell: counts in full with thousands separators, other numbers
    to SIGNIFICANT digits with an exponent where needed (1.7319e+09), never cut."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.{SIGNIFICANT}g}"
    return "0" if text == "-0" else text


def _stat_cells(s: ColumnStats) -> list[str]:
    d = s.summary()
    mean, lo, hi = d["mean"], d["min"], d["max"]
    if mean is not None and lo is not None and hi is not None and abs(mean) < 1e-12 * max(abs(lo), abs(hi)):
        mean = 0.0  # rounding noise of an exactly centred column (-2.7e-17) reads as 0
    return [fmt(s.count), fmt(s.nulls + s.infs), fmt(mean), fmt(d["std"]), fmt(lo), fmt(hi)]


def wide_console(stream: TextIO | None = None) -> Console:
    """`console(stream)` laid out for $COLUMNS when it is set, even off a terminal."""
    con = console(stream)
    con.width = report_width(con)
    return con


def layout(grid: Grid, con: Console) -> Group:
    """The grid as renderables that fit the console's width."""
    return Group(*render(grid, con.width))


SUMMARY_FROM = 100  # columns from which the default report is the summary


def default_report(columns: int) -> str:
    return "summary" if columns >= SUMMARY_FROM else "full"


SPARK_BINS = 16  # bins of a terminal histogram
_BLOCKS = " ▁▂▃▄▅▆▇█"


def spark(histogram: Mapping[str, Any] | None, bins: int = SPARK_BINS) -> str:
    """A histogram (edges and counts, as `Histogram.summary`) drawn in `bins` Unicode block
    characters over its range, the tallest bin a full block; "-" when there is none. Bins
    with some values are never blank; NaN and inf are not drawn (the nulls column counts them)."""
    if not histogram or not histogram["counts"]:
        return "-"
    edges = histogram["edges"]
    counts = resample(edges, histogram["counts"], bins, edges[0], edges[-1])
    top = counts.max()
    if not top > 0:
        return "-"
    levels = [0 if c <= 0 else max(1, round(8 * c / top)) for c in counts]
    return "".join(_BLOCKS[k] for k in levels)


def before_after_grid(
    title: str,
    before: Mapping[str, ColumnStats],
    after: Mapping[str, ColumnStats],
    methods: Mapping[str, str],
    histograms: Mapping[str, Mapping[str, Any]] | None = None,
) -> Grid:
    """One line for the column before and one after, so the two read against each other;
    with `histograms` (name -> before/after edges and counts), a terminal histogram of each."""
    records = []
    for name in before:
        lines = [("before", _stat_cells(before[name])), ("after", _stat_cells(after[name]))]
        if histograms is not None:
            h = histograms.get(name, {})
            lines = [(stage, [*cells, spark(h.get(stage))]) for stage, cells in lines]
        records.append(Record(name, [methods.get(name, "")], lines))
    headers = list(STAT_COLUMNS) + (["histogram"] if histograms is not None else [])
    return Grid(title, "column", ["method"], "stage", headers, records, {"histogram"})


HIST_MIN_WIDTH = 100  # terminals from this width show histograms by default


def hist_fits(grid: Grid, width: int) -> bool:
    """Whether a report with histograms reads well at `width`: a terminal at least
    HIST_MIN_WIDTH wide, where the grid is laid out as tables (maybe split), not as blocks."""
    return width >= HIST_MIN_WIDTH and all(isinstance(r, Table) for r in render(grid, width))


def before_after_table(
    title: str,
    before: Mapping[str, ColumnStats],
    after: Mapping[str, ColumnStats],
    methods: Mapping[str, str],
    width: int = 120,
) -> Group:
    """The full before/after report laid out for `width`, for callers that print it themselves."""
    return Group(*render(before_after_grid(title, before, after, methods), width))


def warnings_by_column(names: Iterable[str], warnings: Iterable[str]) -> dict[str, int]:
    """How many of the warnings are about each column (they start "column 'name'")."""
    counts = dict.fromkeys(names, 0)
    prefixes = {f"column {name!r}": name for name in counts}
    for w in warnings:
        if not w.startswith("column "):
            continue
        # the quoted name ends at one of the quotes after "column ": try each (names may hold quotes)
        for end in (i for i, ch in enumerate(w) if i > 7 and ch in "'\""):
            name = prefixes.get(w[: end + 1])
            if name is not None:
                counts[name] += 1
                break
    return counts


def summary_grid(
    title: str,
    before: Mapping[str, ColumnStats],
    after: Mapping[str, ColumnStats],
    methods: Mapping[str, str],
    warnings: Iterable[str],
) -> Grid:
    """One line per column: mean and std before -> after, and its number of warnings."""
    counts = warnings_by_column(before, warnings)
    records = []
    for name in before:
        b, a = _stat_cells(before[name]), _stat_cells(after[name])
        cells = [f"{b[2]} -> {a[2]}", f"{b[3]} -> {a[3]}", fmt(counts[name])]
        records.append(Record(name, [methods.get(name, "")], [("", cells)]))
    return Grid(title, "column", ["method"], None, ["mean before -> after", "std before -> after", "warnings"], records)


def lrn_grid(title: str, rows: list[tuple[str, ColumnStats, int, ColumnStats, int]], label: str = "channel") -> Grid:
    """Before/after lines of an LRN (or a norm): (label, stats before, zeros before, stats after,
    zeros after). `label` names what a row is: a channel, or a feature for layer/rms."""
    records = []
    for name, before, zb, after, za in rows:
        lines = []
        for stage, s, zeros in (("before", before, zb), ("after", after, za)):
            cells = _stat_cells(s)
            total = s.count + s.nulls + s.infs
            share = f"{zeros / total:.1%}" if total else "-"
            lines.append((stage, [cells[0], *cells[2:], share]))
        records.append(Record(name, [], lines))
    return Grid(title, label, [], "stage", ["count", "mean", "std", "min", "max", "zeros"], records)


STATS_NUMERIC = ("count", "nulls", "mean", "std", "min", "p1", "p25", "median", "p75", "p99", "max")
STATS_VALUES = ("type", "count", "nulls", "distinct", "most common", "its count", "min", "max")
# the columns of `stats --output-format csv|tsv`: one row per input column
STATS_FIELDS = (
    "column",
    "type",
    "count",
    "nulls",
    "infs",
    "mean",
    "std",
    "min",
    "p1",
    "p25",
    "median",
    "p75",
    "p99",
    "max",
    "distinct",
    "most_common",
    "most_common_count",
)
TEXT_CELL = 24  # a most-common text value longer than this is abbreviated in the table (whole in JSON/CSV)


def stats_grids(title: str, summaries: Mapping[str, Mapping[str, Any]], hist: bool = False) -> list[Grid]:
    """The table of numeric columns (with `hist`, a terminal histogram of each), then the one
    of text, date and boolean columns."""
    numeric = {n: d for n, d in summaries.items() if d["type"] == "number"}
    others = {n: d for n, d in summaries.items() if d["type"] != "number"}
    grids = []
    if numeric:
        ddof = next(iter(numeric.values()))["ddof"]
        kind = "sample" if ddof == 1 else "population" if ddof == 0 else f"ddof {ddof}"
        headers = list(STATS_NUMERIC)
        infs = any(d["infs"] for d in numeric.values())
        if infs:
            headers.append("inf")
        if hist:
            headers.append("histogram")
        records = []
        for name, d in numeric.items():
            cells = [fmt(d[k]) for k in STATS_NUMERIC] + ([fmt(d["infs"])] if infs else [])
            cells += [spark(d.get("histogram"))] if hist else []
            records.append(Record(name, [], [("", cells)]))
        grids.append(Grid(f"{title} (std: {kind}, ddof {ddof})", "column", [], None, headers, records, {"histogram"}))
    if others:
        records = []
        ordered = any("min" in d for d in others.values())
        headers = list(STATS_VALUES if ordered else STATS_VALUES[:6])
        for name, d in others.items():
            distinct = fmt(d["distinct"]) + ("+" if d["distinct_is_lower_bound"] else "")
            top = d["most_common"]
            cells = [d["type"], fmt(d["count"]), fmt(d["nulls"]), distinct, _short(top), fmt(d["most_common_count"])]
            if ordered:
                cells += [_short(d.get("min")), _short(d.get("max"))]
            records.append(Record(name, [], [("", cells)]))
        text_title = title if not numeric else "text, date and boolean columns"
        grids.append(Grid(text_title, "column", [], None, headers, records, {"type", "most common", "min", "max"}))
    return grids


def _short(value: Any) -> str:
    if value is None:
        return "-"
    # a value's newlines or control characters would break the table's lines: show them escaped
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(value))
    return text if len(text) <= TEXT_CELL else text[: TEXT_CELL - 1] + "…"


def quantile_note(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A sentence when some quantiles come from the sketch, with their worst rank error."""
    errors = [d["quantile_rank_error"] for d in summaries.values() if d.get("quantile_rank_error")]
    if not errors:
        return None
    return f"quantiles are approximate (a mergeable sketch): rank error at most {max(errors):.3%} of the count"


def stats_rows(summaries: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    """`stats` as rows of STATS_FIELDS, for CSV or TSV (None where a field does not apply)."""
    return [[name, *(d.get(f) for f in STATS_FIELDS[1:])] for name, d in summaries.items()]


def scaler_grid(title: str, scaler: Any) -> Grid:
    """What a scaler holds: per column its method, options, fitted values and fit statistics."""
    records = []
    for col in scaler.columns:
        options = ", ".join(f"{k}={_option_text(v)}" for k, v in col.options.items()) or "-"
        fitted = ", ".join(f"{k}={fmt(v)}" for k, v in col.fitted.items()) or "-"
        s = _stat_cells(col.stats)
        records.append(Record(col.name, [col.method], [("", [options, fitted, *s])]))
    headers = ["options", "fitted", *STAT_COLUMNS]
    return Grid(title, "column", ["method"], None, headers, records, {"options", "fitted"})


def _option_text(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, list):
        return "[" + " ".join(_option_text(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


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


def before_after_json(
    command: str,
    source: str,
    rows: int | None,
    before: Mapping[str, ColumnStats],
    after: Mapping[str, ColumnStats],
    methods: Mapping[str, str],
    counters: Mapping[str, Counters] | None = None,
    histograms: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    columns = {}
    for name in before:
        entry: dict[str, Any] = {"method": methods.get(name), "before": before[name].summary()}
        entry["after"] = after[name].summary()
        if histograms and name in histograms:
            for stage in ("before", "after"):
                entry[stage]["histogram"] = histograms[name].get(stage)
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
    return {
        "command": "lrn",
        "input": source,
        "shape": list(shape),
        "dtype": dtype,
        "spec": spec_lines,
        "overflow": overflow,
        **channel_stats_json(before, after),
    }


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def channel_stats_json(before: ChannelStats, after: ChannelStats, label: str = "channel") -> dict[str, Any]:
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


DRIFT_HEADERS = ["rows", "nulls fit -> now", "mean shift (std)", "outside range", "psi", "ks", "verdict"]


def drift_grid(title: str, results: Iterable[Any]) -> Grid:
    """`check`: one line per column (`ColumnDrift`), its figures and its verdict."""
    records = []
    for r in results:
        shift = "-" if r.mean_shift != r.mean_shift else f"{r.mean_shift:+.3g}"
        verdict = "drift: " + "; ".join(r.reasons) if r.drifted else "ok"
        cells = [
            fmt(r.rows),
            f"{r.null_share_fit:.1%} -> {r.null_share:.1%}",
            shift,
            f"{r.outside:.1%}",
            fmt(r.psi),
            fmt(r.ks),
            verdict,
        ]
        records.append(Record(r.name, [], [("", cells)]))
    return Grid(title, "column", [], None, list(DRIFT_HEADERS), records, {"verdict"})
