"""norm and bn-stats: the activation-norm commands on `.npy`/`.npz` arrays (batch, layer,
instance, group and RMS norm; batch norm's population statistics for inference).

They are registered on the group by `normcli.cli`; the options and plot they share with lrn
(--layout/--channel-axis, the per-channel plot) come from `normcli.cli_tensor`, the rest from
`normcli.cli_options`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from normcli.cli_options import (
    FLAGS,
    STDIO,
    _all_outputs_or_none,
    _check_plot,
    _plot_option,
    _Progress,
    _report_options,
    _write_text,
)
from normcli.cli_tensor import _layout_options, _plot_channels
from normcli.errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from normcli.norm_pipeline import NormResult
    from normcli.tensor.norm import NormSpec


# --- norm and bn-stats ---------------------------------------------------------------------------


@click.command()
@click.argument("input_path", metavar="INPUT.npy")
@click.option("-o", "--output", default=STDIO, show_default=True, help="Output .npy file ('-': stdout).")
@click.option(
    "--kind",
    type=click.Choice(["batch", "layer", "instance", "group", "rms"]),
    required=True,
    help="What the statistics reduce over (see the README's table).",
)
@click.option(
    "--convention",
    type=click.Choice(["torch", "keras"]),
    default="torch",
    show_default=True,
    help="Whose defaults: eps, and the channel axis (torch 1, keras last).",
)
@_layout_options
@click.option("--eps", type=float, help="Added to the variance [default: the convention's].")
@click.option("--groups", type=int, help="group: the number of groups G (must divide the channels).")
@click.option(
    "--normalized-dims", type=int, help="layer/rms: normalize over the last D axes (torch's normalized_shape)."
)
@click.option("--affine", help="An .npz with weight/bias (or gamma/beta) arrays.")
@click.option("--gamma", "gamma_path", help="An .npy of gamma (weight).")
@click.option("--beta", "beta_path", help="An .npy of beta (bias).")
@click.option(
    "--stats",
    "stats_path",
    help="batch: fixed mean/variance (.npz from bn-stats or a state dict, or a zscore scaler .json): inference mode.",
)
@click.option("--key", help="The array to use from an .npz INPUT.")
@click.option(
    "--explain", is_flag=True, help="Print the axes reduced, eps and affine that would be used; write nothing."
)
@_report_options
@_plot_option
@_all_outputs_or_none
def norm(
    input_path: str,
    output: str,
    kind: str,
    convention: str,
    layout: str | None,
    channel_axis: int | None,
    eps: float | None,
    groups: int | None,
    normalized_dims: int | None,
    affine: str | None,
    gamma_path: str | None,
    beta_path: str | None,
    stats_path: str | None,
    key: str | None,
    explain: bool,
    quiet: bool,
    stats_json: str | None,
    plot_path: str | None = None,
) -> None:
    """Batch, layer, instance, group or RMS normalization of activations in a .npy file, as
    PyTorch or Keras compute it, block by block (the array may exceed memory)."""
    from normcli.io import check_output_path
    from normcli.io.arrays import load_array
    from normcli.tensor.layout import output_dtype
    from normcli.tensor.norm import check_param, resolve_norm_spec
    from normcli.tensor.norm import explain as explain_spec

    x = load_array(input_path, key)
    output_dtype(x.dtype, f"{kind} norm")
    spec = resolve_norm_spec(
        ndim=x.ndim,
        shape=tuple(x.shape),
        kind=kind,
        convention=convention,
        eps=eps,
        groups=groups,
        normalized_dims=normalized_dims,
        layout=layout.upper() if layout else None,
        channel_axis=channel_axis,
    )
    gamma, beta, affine_text, where = _load_affine_options(affine, gamma_path, beta_path)
    shape = spec.param_shape(tuple(x.shape))
    gamma = check_param(gamma, where[0], shape, spec)
    beta = check_param(beta, where[1], shape, spec)
    if spec.kind == "rms" and beta is not None:
        raise UsageError("--kind rms has no beta (no centring, no shift); drop --beta or the bias array")
    running = None
    stats_text = None
    if stats_path is not None:
        from normcli.norm_pipeline import load_stats_file

        mean, var, stats_text = load_stats_file(stats_path, spec, tuple(x.shape))
        running = (mean, var)
    if explain:
        lines = [f"input: {input_path} {x.dtype} {tuple(x.shape)}"]
        lines += explain_spec(spec, tuple(x.shape), x.dtype, affine=affine_text, stats=stats_text, names=FLAGS)
        sys.stdout.write("\n".join(lines) + "\n")
        return
    if output != STDIO and not output.lower().endswith(".npy"):
        raise UsageError(f"-o {output}: norm writes .npy files; name the output *.npy")
    inputs = tuple(p for p in (input_path, affine, gamma_path, beta_path, stats_path) if p)
    check_output_path(output, inputs)
    if stats_json:
        check_output_path(stats_json, inputs, "--stats-json", (("-o", output),))
    _check_plot(plot_path, inputs, (("-o", output),) + ((("--stats-json", stats_json),) if stats_json else ()))
    from normcli.norm_pipeline import norm_file

    with _Progress(quiet) as progress:
        result = norm_file(
            x,
            output,
            spec,
            gamma=gamma,
            beta=beta,
            running=running,
            with_stats=bool(stats_json) or not quiet or bool(plot_path),
            with_hist=bool(plot_path),
            progress=progress.update,
        )
    _report_norm(input_path, x, spec, result, affine_text, stats_text, quiet, stats_json)
    if plot_path:
        label = "feature" if spec.kind in ("layer", "rms") else "channel"
        _plot_channels(
            plot_path, f"norm ({spec.kind}): {input_path}", result.before, result.after, result.histograms, label
        )


def _load_affine_options(
    affine: str | None, gamma_path: str | None, beta_path: str | None
) -> tuple[Any, Any, str | None, tuple[str, str]]:
    """gamma and beta from --affine FILE.npz or --gamma/--beta .npy files, a description of
    where they came from, and a label for each (for messages)."""
    from normcli.io.arrays import load_array

    if affine and (gamma_path or beta_path):
        raise UsageError("give --affine FILE.npz or --gamma/--beta, not both")
    if affine:
        from normcli.io.norm_files import load_affine

        return load_affine(affine)
    gamma = load_array(gamma_path) if gamma_path else None
    beta = load_array(beta_path) if beta_path else None
    named = [f"--gamma {gamma_path}" if gamma_path else "", f"--beta {beta_path}" if beta_path else ""]
    return gamma, beta, ", ".join(n for n in named if n) or None, (named[0], named[1])


def _report_norm(
    input_path: str,
    x: np.ndarray,
    spec: NormSpec,
    result: NormResult,
    affine_text: str | None,
    stats_text: str | None,
    quiet: bool,
    stats_json_path: str | None,
) -> None:
    from normcli import report
    from normcli.report import most_changed
    from normcli.tensor.norm import explain as explain_spec

    notes = []
    if x.dtype.kind in "biu":
        notes.append(f"{x.dtype} input was computed as float32")
    if x.dtype.kind == "f" and x.dtype.itemsize == 2:
        notes.append("float16 input was computed in float32 and cast back")
    if result.overflow:
        notes.append(f"{result.overflow:,} value(s) overflowed {result.out_dtype} and became inf")
    label = "feature" if spec.kind in ("layer", "rms") else "channel"
    before, after = result.before, result.after
    if before is None or after is None:  # not gathered: -q without --stats-json
        return
    if stats_json_path:
        data = {
            "command": "norm",
            "input": input_path,
            "shape": list(x.shape),
            "dtype": str(result.out_dtype),
            "kind": spec.kind,
            "convention": spec.convention,
            "eps": result.eps,
            "spec": explain_spec(spec, tuple(x.shape), x.dtype, affine=affine_text, stats=stats_text, names=FLAGS),
            "overflow": result.overflow,
            **report.channel_stats_json(before, after, label),
        }
        _write_text(stats_json_path, report.dumps(data))
    if quiet:
        return
    rows = [("all", before.overall, before.overall_zeros, after.overall, after.overall_zeros)]
    for c in most_changed(before, after):
        rows.append((str(c), before.stats[c], before.zeros[c], after.stats[c], after.zeros[c]))
    con = report.wide_console()
    where = f"last {spec.normalized_dims} axes" if spec.channel_axis is None else f"channel axis {spec.channel_axis}"
    mode = ", fixed statistics" if stats_text else ""
    title = f"norm ({spec.kind}, {spec.convention}, {where}, eps {result.eps:.3g}{mode}): {input_path}"
    con.print(report.layout(report.lrn_grid(title, rows, label), con))
    if len(rows) > 1:
        n = len(rows) - 1
        con.print(f"(overall, then the {n} {label}{'s' if n > 1 else ''} whose scale changed most)")
    for note in notes:
        report.warn(con, note)


@click.command(name="bn-stats")
@click.argument("inputs", metavar="INPUT.npy...", nargs=-1, required=True)
@click.option("-o", "--output", required=True, help="Output .npz of the statistics.")
@click.option(
    "--batch-size", type=int, help="Split the samples into mini-batches of this many [default: one per file]."
)
@click.option(
    "--momentum",
    type=float,
    help="Write the framework's running averages with this momentum (torch's default 0.1, keras' 0.99), "
    "the population estimates beside them [default: none: the population estimates, torch's momentum=None].",
)
@click.option(
    "--convention",
    type=click.Choice(["torch", "keras"]),
    default="torch",
    show_default=True,
    help="Momentum rule, array names and default channel axis.",
)
@_layout_options
@click.option("--key", help="The array to use from .npz inputs.")
@_report_options
@_all_outputs_or_none
def bn_stats(
    inputs: tuple[str, ...],
    output: str,
    batch_size: int | None,
    momentum: float | None,
    convention: str,
    layout: str | None,
    channel_axis: int | None,
    key: str | None,
    quiet: bool,
    stats_json: str | None,
) -> None:
    """Batch norm's population statistics for inference (Ioffe and Szegedy: mean of the batch
    means, m/(m-1) times the mean of the batch variances, m values per channel in a batch),
    from one or many .npy files of activations; written as an .npz for `norm --stats`."""
    from normcli.io import check_output_path
    from normcli.io.arrays import load_array
    from normcli.tensor.layout import output_dtype, resolve_channel_axis

    if output == STDIO or not output.lower().endswith(".npz"):
        raise UsageError(f"-o {output}: bn-stats writes an .npz archive; name the output *.npz")
    arrays = []
    for path in inputs:
        x = load_array(path, key)
        output_dtype(x.dtype, "bn-stats")
        if x.ndim < 2:
            raise DataError(f"{path} is a {x.ndim}-D array; bn-stats needs (N, C, ...) with a batch axis first")
        arrays.append((path, x))
    ndim = arrays[0][1].ndim
    axis, _ = resolve_channel_axis(
        ndim, layout.upper() if layout else None, channel_axis, 1 if convention == "torch" else ndim - 1
    )
    if axis == 0:
        raise UsageError(
            "bn-stats reads mini-batches along axis 0, so the channels cannot be axis 0; pass --channel-axis 1 or later"
        )
    check_output_path(output, inputs)
    if stats_json:
        check_output_path(stats_json, inputs, "--stats-json", (("-o", output),))
    from normcli.io.norm_files import write_npz
    from normcli.norm_pipeline import bn_stats_files

    with _Progress(quiet) as progress:
        result = bn_stats_files(
            arrays,
            channel_axis=axis,
            batch_size=batch_size,
            momentum=momentum,
            convention=convention,
            progress=progress.update,
        )
    written = result.arrays()
    write_npz(output, written)
    from normcli import report

    if stats_json:
        data = {
            "command": "bn-stats",
            "inputs": list(inputs),
            "output": output,
            "convention": convention,
            "momentum": momentum,
            "batches": result.batches,
            "values_per_batch": result.values_per_batch,
            "channel_axis": axis,
            "arrays": {name: a.tolist() for name, a in written.items()},
        }
        _write_text(stats_json, report.dumps(data))
    if not quiet:
        con = report.console()
        con.print(report.bn_stats_table(f"bn-stats ({convention}): {output}", written))
        plural = "es" if result.batches != 1 else ""
        con.print(
            f"({result.batches} mini-batch{plural} of m = {_m_text(result.values_per_batch)} values per channel, "
            f"channel axis {axis})"
        )


def _m_text(sizes: list[int]) -> str:
    lo, hi = min(sizes), max(sizes)
    return f"{lo:,}" if lo == hi else f"{lo:,}..{hi:,}"
