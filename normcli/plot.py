"""Figures of distributions before and after: a plot file for `--plot FILE`.

PNG, SVG and PDF are drawn with matplotlib (the optional extra `normcli[plot]`, imported
only here and only when asked, with the headless Agg backend); `.html` is a self-contained
page of inline SVG drawn here, which needs nothing beyond the standard library. Each panel
is one column (or channel): its histogram before and after as a density, a smoothed density
curve over it, the mean as a line and mean +- std as a band. Functions return the file's
bytes; the caller writes them (atomically, through normcli.io).
"""

from __future__ import annotations

import html
import importlib.util
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from normcli.errors import UsageError
from normcli.stats import ColumnStats

__all__ = ["FORMATS", "MAX_PANELS", "Channels", "Panel", "check_plot_path", "render", "table_panels"]

FORMATS = ("png", "svg", "pdf", "html")
MAX_PANELS = 12  # columns drawn; the title says when there were more
PNG_SIZE = (10.0, 2.6)  # inches per row of panels (width, height); 100 dpi
DPI = 100


@dataclass
class Panel:
    """One column: its histograms (edges and counts, as `Histogram.summary`) and its
    (mean, std) before and after; any of them None when not known."""

    name: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    before_stats: tuple[float, float] | None = None
    after_stats: tuple[float, float] | None = None


@dataclass
class Channels:
    """Per-channel (mean, std) before and after of an activation array, for the channels in
    `indices` (all of them, or the most changed when there are many)."""

    label: str
    indices: list[int]
    before: list[tuple[float, float]]
    after: list[tuple[float, float]]
    total: int  # channels in the array


def plot_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return "html" if ext == "htm" else ext


def check_plot_path(path: str) -> str:
    """The figure format of `path` (from its extension), or a UsageError naming the fix;
    also when matplotlib, needed for all but .html, is not installed."""
    fmt = plot_format(path)
    if fmt not in FORMATS:
        raise UsageError.about(
            "{plot} {path}: name a .png, .svg, .pdf or .html file (the extension sets the format)", path=path
        )
    if fmt != "html" and importlib.util.find_spec("matplotlib") is None:
        raise UsageError.about(
            '{plot} {path} needs matplotlib, which is not installed: pip install "normcli[plot]" '
            "(or write a .html plot, which needs nothing more)",
            path=path,
        )
    return fmt


def _density(hist: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(edges, density) of a histogram: counts / (total * width), so before and after, in
    different units, each integrate to 1."""
    edges = np.asarray(hist["edges"], dtype=np.float64)
    counts = np.asarray(hist["counts"], dtype=np.float64)
    widths = np.diff(edges)
    total = counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(widths > 0, counts / (total * widths), 0.0) if total else np.zeros_like(counts)
    return edges, density


def _drawable(
    hist: Mapping[str, Any], stats: tuple[float, float] | None
) -> tuple[Mapping[str, Any], tuple[float, float] | None, str]:
    """The histogram and (mean, std) in units the drawing arithmetic can take, and the unit's
    label: values spanning more than about 1e300 (-1e308 to 1e308 is a valid column) overflow
    the widths and positions computed from them, so such a panel is drawn in units of a power
    of ten, named in its title."""
    edges = np.asarray(hist["edges"], dtype=np.float64)
    top = float(np.max(np.abs(edges))) if edges.size else 0.0
    if top < 1e300:
        return hist, stats, ""
    unit = 10.0 ** math.floor(math.log10(top))
    scaled = {**hist, "edges": (edges / unit).tolist()}
    if stats is not None:
        stats = (stats[0] / unit, stats[1] / unit)
    return scaled, stats, f" (x {unit:.0e})"


def _curve(edges: np.ndarray, density: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A smooth density curve: the histogram's density at bin centres, smoothed by a
    Gaussian of one and a half bins (a kernel density estimate of the binned data)."""
    centres = (edges[:-1] + edges[1:]) / 2
    x = np.linspace(edges[0], edges[-1], points)
    if centres.size < 2 or not edges[-1] > edges[0]:
        return x, np.zeros_like(x)
    mass = density * np.diff(edges)
    bw = 1.5 * (edges[-1] - edges[0]) / centres.size
    kernel = np.exp(-0.5 * ((x[:, None] - centres[None, :]) / bw) ** 2) / (bw * math.sqrt(2 * math.pi))
    return x, kernel @ mass


def table_panels(
    before: Mapping[str, ColumnStats],
    after: Mapping[str, ColumnStats] | None,
    histograms: Mapping[str, Mapping[str, Any]],
) -> list[Panel]:
    """A panel per column of a before/after report (after None: `stats`, one distribution)."""

    def moments(s: ColumnStats) -> tuple[float, float] | None:
        if not s.count:
            return None
        mean = s.mean
        if abs(mean) < 1e-12 * max(abs(s.min), abs(s.max)):
            mean = 0.0  # rounding noise of an exactly centred column (-4.4e-16) reads as 0, as in the tables
        return mean, s.std()

    return [
        Panel(
            name,
            histograms.get(name, {}).get("before"),
            histograms.get(name, {}).get("after") if after is not None else None,
            moments(before[name]),
            moments(after[name]) if after is not None else None,
        )
        for name in before
    ]


def _panels(panels: Sequence[Panel]) -> tuple[list[Panel], str]:
    shown = list(panels[:MAX_PANELS])
    note = f" (the first {MAX_PANELS} of {len(panels)} columns)" if len(panels) > MAX_PANELS else ""
    return shown, note


def render(path: str, title: str, panels: Sequence[Panel], channels: Channels | None = None) -> bytes:
    """The figure for `path` (its extension sets the format) as bytes; with `channels`, a
    last row of each channel's mean +- std before and after."""
    fmt = check_plot_path(path)
    shown, note = _panels(panels)
    if fmt == "html":
        return _html(title + note, shown, channels).encode()
    return _matplotlib(fmt, title + note, shown, channels)


def _channel_note(ch: Channels) -> str:
    if len(ch.indices) == ch.total:
        return f"per {ch.label}: mean ± std"
    return f"the {len(ch.indices)} most changed of {ch.total} {ch.label}s: mean ± std"


def _matplotlib(fmt: str, title: str, panels: list[Panel], channels: Channels | None = None) -> bytes:
    import matplotlib
    from matplotlib.figure import Figure  # a Figure without pyplot draws with Agg: no display, no global state

    rc: dict[str, Any] = {
        "svg.fonttype": "none",
        "text.parse_math": False,
        "svg.hashsalt": "normcli",
        "pdf.fonttype": 42,
    }
    # names stay text in SVG, and "$x$" in a name is not mathtext
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        stages = [s for s in ("before", "after") if any(getattr(p, s) for p in panels)]
        rows, cols = max(len(panels), 1) + (channels is not None), max(len(stages), 1)
        fig = Figure(figsize=(PNG_SIZE[0], PNG_SIZE[1] * rows), dpi=DPI, layout="constrained")
        fig.suptitle(title)
        axes = fig.subplots(rows, cols, squeeze=False)
        for i, panel in enumerate(panels):
            for j, stage in enumerate(stages):
                ax = axes[i][j]
                hist = getattr(panel, stage)
                stats = getattr(panel, f"{stage}_stats")
                ax.set_title(f"{panel.name} ({stage})", fontsize=9, loc="left")
                ax.tick_params(labelsize=7)
                if not hist or not hist["counts"]:
                    ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
                    continue
                hist, stats, unit = _drawable(hist, stats)
                if unit:
                    ax.set_title(f"{panel.name} ({stage}){unit}", fontsize=9, loc="left")
                edges, density = _density(hist)
                colour = "tab:blue" if stage == "before" else "tab:orange"
                ax.stairs(density, edges, fill=True, alpha=0.45, color=colour)
                x, y = _curve(edges, density)
                ax.plot(x, y, color=colour, linewidth=1.2)
                if stats and all(math.isfinite(v) for v in stats):
                    mean, std = stats
                    ax.axvspan(mean - std, mean + std, color="grey", alpha=0.15, label=f"mean ± std ({std:.4g})")
                    ax.axvline(mean, color="black", linewidth=1, label=f"mean {mean:.4g}")
                    ax.legend(fontsize=7, loc="upper right")
        if channels is not None:
            for j, (stage, values) in enumerate((("before", channels.before), ("after", channels.after))[:cols]):
                ax = axes[rows - 1][j]
                ax.set_title(f"{_channel_note(channels)} ({stage})", fontsize=9, loc="left")
                ax.tick_params(labelsize=7)
                positions = np.arange(len(channels.indices))
                means = [m for m, _ in values]
                stds = [sd for _, sd in values]
                ax.errorbar(positions, means, yerr=stds, fmt="o", markersize=3, capsize=2)
                ax.set_xticks(positions, [str(c) for c in channels.indices], fontsize=6)
                ax.set_xlabel(channels.label, fontsize=7)
        buffer = io.BytesIO()
        metadata = {"Software": None} if fmt == "png" else {"Date": None} if fmt in ("svg", "pdf") else {}
        fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


# --- the self-contained HTML page ----------------------------------------------------------------

_W, _H, _PAD = 360, 140, 24


def _svg(hist: Mapping[str, Any] | None, stats: tuple[float, float] | None, colour: str) -> str:
    if not hist or not hist["counts"]:
        return f'<svg width="{_W}" height="{_H}"><text x="10" y="70">no values</text></svg>'
    hist, stats, unit = _drawable(hist, stats)
    edges, density = _density(hist)
    x, y = _curve(edges, density)
    lo, hi = float(edges[0]), float(edges[-1])
    span = hi - lo or 1.0
    top = float(max(density.max(), y.max())) or 1.0

    def px(v: float) -> float:
        return _PAD + (v - lo) / span * (_W - 2 * _PAD)

    def py(v: float) -> float:
        return _H - _PAD - v / top * (_H - 2 * _PAD)

    parts = [f'<svg width="{_W}" height="{_H}" xmlns="http://www.w3.org/2000/svg">']
    if stats and all(math.isfinite(v) for v in stats):
        mean, std = stats
        a, b = px(max(mean - std, lo)), px(min(mean + std, hi))
        parts.append(f'<rect x="{a:.1f}" y="{_PAD}" width="{max(b - a, 0):.1f}" height="{_H - 2 * _PAD}" fill="#ddd"/>')
    for k in range(density.size):
        x0, x1 = px(edges[k]), px(edges[k + 1])
        parts.append(
            f'<rect x="{x0:.1f}" y="{py(density[k]):.1f}" width="{max(x1 - x0, 0.5):.1f}" '
            f'height="{_H - _PAD - py(density[k]):.1f}" fill="{colour}" fill-opacity="0.5"/>'
        )
    points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, y, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    if stats and all(math.isfinite(v) for v in stats):
        m = px(stats[0])
        parts.append(f'<line x1="{m:.1f}" x2="{m:.1f}" y1="{_PAD}" y2="{_H - _PAD}" stroke="black"/>')
    parts.append(f'<text x="{_PAD}" y="{_H - 6}" font-size="10">{lo:.4g}</text>')
    parts.append(f'<text x="{_W - _PAD}" y="{_H - 6}" font-size="10" text-anchor="end">{hi:.4g}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _stats_text(stats: tuple[float, float] | None) -> str:
    return "" if not stats else f"mean {stats[0]:.5g}, std {stats[1]:.5g}"


def _html(title: str, panels: list[Panel], channels: Channels | None = None) -> str:
    rows = []
    for p in panels:
        cells = []
        for stage, colour in (("before", "#1f77b4"), ("after", "#ff7f0e")):
            hist, stats = getattr(p, stage), getattr(p, f"{stage}_stats")
            if hist is None and stats is None:
                continue
            cells.append(f"<td><div>{stage}: {html.escape(_stats_text(stats))}</div>{_svg(hist, stats, colour)}</td>")
        rows.append(f"<tr><th>{html.escape(p.name)}</th>{''.join(cells)}</tr>")
    table = ""
    if channels is not None:
        lines = "".join(
            f"<tr><td>{c}</td><td>{b[0]:.5g}</td><td>{b[1]:.5g}</td><td>{a[0]:.5g}</td><td>{a[1]:.5g}</td></tr>"
            for c, b, a in zip(channels.indices, channels.before, channels.after, strict=True)
        )
        table = (
            f"<h4>{html.escape(_channel_note(channels))}</h4><table><tr><th>{html.escape(channels.label)}</th>"
            "<th>mean before</th><th>std before</th><th>mean after</th><th>std after</th></tr>" + lines + "</table>"
        )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        + html.escape(title)
        + "</title><style>body{font-family:sans-serif}th{text-align:left;padding-right:1em}"
        "td div{font-size:12px}</style></head><body><h3>"
        + html.escape(title)
        + "</h3><p>Histograms as densities with a smoothed curve; black line: the mean; grey band: mean ± std.</p>"
        "<table>" + "".join(rows) + "</table>" + table + "</body></html>\n"
    )
