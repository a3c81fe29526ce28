"""lrn, the Local Response Normalization command on activation arrays (`.npy`/`.npz`), and
what the array commands share: --layout/--channel-axis and the per-channel plot (norm and
bn-stats, in `normcli.cli_norm`, use them).

They are registered on the group by `normcli.cli`; what they share with the table commands
(options, reports, outputs) comes from `normcli.cli_options`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from normcli.cli_options import (
    FLAGS,
    STDIO,
    F,
    _all_outputs_or_none,
    _check_binary_output,
    _check_plot,
    _plot_option,
    _Progress,
    _report_options,
    _stdout_aliases,
    _write_plot,
    _write_text,
)
from normcli.errors import UsageError
from normcli.untrusted import visible

if TYPE_CHECKING:
    import numpy as np

    from normcli.lrn_spec import LRNSpec
    from normcli.pipeline import LrnResult
    from normcli.stats import ChannelStats, ColumnStats


def _layout_options(f: F) -> F:
    """--layout and --channel-axis, where an array's channels are (lrn, norm, bn-stats)."""
    f = click.option("--channel-axis", type=int, help="The channel axis (instead of --layout).")(f)
    return click.option(
        "--layout", type=click.Choice(["NHWC", "NCHW"], case_sensitive=False), help="Where the channels are."
    )(f)


# --- lrn -------------------------------------------------------------------------------------


@click.command()
@click.argument("input_path", metavar="INPUT.npy")
@click.option("-o", "--output", default=STDIO, show_default=True, help="Output .npy file ('-': stdout).")
@click.option(
    "--convention",
    type=click.Choice(["tf", "torch", "onnx", "caffe"]),
    default="torch",
    show_default=True,
    help="Whose LRN to reproduce: window, scaling of alpha, defaults and layout.",
)
@_layout_options
@click.option("--size", type=int, help="Window size in channels (torch, onnx, caffe local_size).")
@click.option("--depth-radius", type=int, help="Channels on each side (tf); size = 2 * radius + 1.")
@click.option("--alpha", type=float, help="Scale of the sum of squares (torch/onnx/caffe divide it by the size).")
@click.option("--beta", type=float, help="Exponent.")
@click.option("-k", "--k", "--bias", "bias", type=float, help="Additive constant k (TF: bias).")
@click.option(
    "--region",
    type=click.Choice(["across", "within"]),
    default="across",
    show_default=True,
    help="across channels, or within a channel (Caffe's n x n spatial box).",
)
@click.option("--key", help="The array to use from an .npz archive.")
@click.option("--explain", is_flag=True, help="Print the window, scale and axis that would be used; write nothing.")
@_report_options
@_plot_option
@_all_outputs_or_none
def lrn(
    input_path: str,
    output: str,
    convention: str,
    layout: str | None,
    channel_axis: int | None,
    size: int | None,
    depth_radius: int | None,
    alpha: float | None,
    beta: float | None,
    bias: float | None,
    region: str,
    key: str | None,
    explain: bool,
    quiet: bool,
    stats_json: str | None,
    plot_path: str | None = None,
) -> None:
    """Local Response Normalization of activations in a .npy file, exactly as TensorFlow,
    PyTorch, ONNX or Caffe compute it, block by block (the array may exceed memory)."""
    from normcli.io import check_output_path
    from normcli.io.arrays import load_array
    from normcli.lrn_spec import explain as explain_spec
    from normcli.lrn_spec import resolve_spec

    x = load_array(input_path, key)
    spec = resolve_spec(
        ndim=x.ndim,
        convention=convention,
        size=size,
        depth_radius=depth_radius,
        alpha=alpha,
        beta=beta,
        bias=bias,
        region=region,
        layout=layout.upper() if layout else None,
        channel_axis=channel_axis,
    )
    if explain:
        lines = [f"input: {visible(input_path)} {x.dtype} {tuple(x.shape)}", *explain_spec(spec, FLAGS)]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    output, stats_json = _stdout_aliases(output, stats_json)
    if output != STDIO and not output.lower().endswith(".npy"):
        raise UsageError(f"-o {output}: lrn writes .npy files; name the output *.npy")
    _check_binary_output(output, "npy")
    check_output_path(output, (input_path,))
    if stats_json:
        check_output_path(stats_json, (input_path,), "--stats-json", (("-o", output),))
    _check_plot(plot_path, (input_path,), (("-o", output),) + ((("--stats-json", stats_json),) if stats_json else ()))
    from normcli.pipeline import lrn_file

    with _Progress(quiet) as progress:
        with_stats = bool(stats_json) or not quiet or bool(plot_path)
        result = lrn_file(x, output, spec, with_stats=with_stats, with_hist=bool(plot_path), progress=progress.update)
    _report_lrn(input_path, x, spec, result, quiet, stats_json)
    if plot_path:
        _plot_channels(plot_path, f"lrn: {input_path}", result.before, result.after, result.histograms)


PLOT_CHANNELS = 32  # channels drawn by lrn --plot: all up to this, else the most changed


def _plot_channels(
    plot_path: str,
    title: str,
    before: ChannelStats | None,
    after: ChannelStats | None,
    histograms: dict[str, Any] | None,
    label: str = "channel",
) -> None:
    """An activation array's plot: every value's distribution before and after, and each
    channel's mean +- std (the most changed channels when there are many)."""
    from normcli.plot import Channels, table_panels
    from normcli.report import most_changed

    assert before is not None and after is not None  # a plot gathers the statistics

    overall = {"all values": before.overall}
    panels = table_panels(overall, {"all values": after.overall}, {"all values": histograms or {}})
    total = len(before.stats)
    chosen = list(range(total)) if total <= PLOT_CHANNELS else sorted(most_changed(before, after, PLOT_CHANNELS))

    def moments(stats: list[ColumnStats]) -> list[tuple[float, float]]:
        return [(stats[c].mean, stats[c].std()) for c in chosen]

    channels = Channels(label, chosen, moments(before.stats), moments(after.stats), total)
    _write_plot(plot_path, title, panels, channels)


def _report_lrn(
    input_path: str, x: np.ndarray, spec: LRNSpec, result: LrnResult, quiet: bool, stats_json_path: str | None
) -> None:
    from normcli import report
    from normcli.lrn_spec import explain as explain_spec

    notes = []
    if x.dtype.kind in "biu":
        notes.append(f"{x.dtype} input was computed as float32")
    if x.dtype.newbyteorder("=") == result.out_dtype and x.dtype.kind == "f" and x.dtype.itemsize == 2:
        notes.append("float16 input was computed in float32 and cast back")
    if result.overflow:
        notes.append(f"{result.overflow:,} value(s) overflowed {result.out_dtype} and became inf")
    before, after = result.before, result.after
    if before is None or after is None:  # -q without --stats-json: nothing was gathered to report
        return
    if stats_json_path:
        data = report.lrn_stats_json(
            input_path, x.shape, str(result.out_dtype), explain_spec(spec, FLAGS), result.overflow, before, after
        )
        _write_text(stats_json_path, report.dumps(data))
    if quiet:
        return
    rows = [("all", before.overall, before.overall_zeros, after.overall, after.overall_zeros)]
    for c in report.most_changed(before, after):
        rows.append((str(c), before.stats[c], before.zeros[c], after.stats[c], after.zeros[c]))
    con = report.wide_console()
    title = f"lrn ({spec.convention}, size {spec.size}, channel axis {spec.channel_axis}): {input_path}"
    con.print(report.layout(report.lrn_grid(title, rows), con))
    if len(rows) > 1:
        n = len(rows) - 1
        con.print(f"(overall, then the {n} channel{'s' if n > 1 else ''} whose scale changed most)")
    for note in notes:
        report.warn(con, note)
