"""The streaming loops behind `normcli norm` and `normcli bn-stats`: read blocks of samples,
gather statistics, normalize, append the output. No options, no terminals.

Batch norm in training mode takes two passes over its input (the statistics of every
channel, then the normalization); the other kinds, and batch norm with fixed statistics,
take one, a block of samples at a time. Either way peak memory is a few blocks however
large the array (the input is read with pread, the output appended to a temporary file
that replaces the output only on success).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from normcli.errors import DataError, UsageError
from normcli.lrn_pipeline import LRN_BLOCK_BYTES
from normcli.pipeline import Progress
from normcli.sketch import Histogram
from normcli.stats import ChannelStats
from normcli.tensor.bn_stats import BNStats, PopulationStats
from normcli.tensor.layout import compute_dtype, count_overflow, output_dtype
from normcli.tensor.norm import NormSpec, check_param, fixed_params, what_is_normalized
from normcli.tensor.norm_kernel import Moments, apply_params, normalize_block, tile_moments

__all__ = ["NormResult", "bn_stats_files", "load_stats_file", "norm_file"]


@dataclass
class NormResult:
    """What `norm_file` did: output dtype, eps used, float16 overflows and (when asked) the
    statistics of each channel (or feature, for layer/rms) before and after."""

    out_dtype: np.dtype
    eps: float
    overflow: int = 0
    before: ChannelStats | None = None
    after: ChannelStats | None = None
    histograms: dict[str, Any] | None = None  # with_hist: every value's histogram before and after


def _blocks(x: np.ndarray, spec: NormSpec, block_bytes: int) -> Iterator[np.ndarray]:
    """Blocks of samples along axis 0, or the whole array when axis 0 is not the samples
    (channels first for batch norm, or layer/rms over every axis)."""
    from normcli.io.arrays import iter_blocks

    whole = x.ndim == 0 or x.shape[0] == 0
    whole |= spec.channel_axis == 0
    whole |= spec.normalized_dims is not None and spec.normalized_dims >= x.ndim
    if whole:
        yield np.asarray(x)
        return
    yield from iter_blocks(x, block_bytes)


def norm_file(
    x: np.ndarray,
    output: str,
    spec: NormSpec,
    *,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    running: tuple[np.ndarray, np.ndarray] | None = None,
    with_stats: bool,
    with_hist: bool = False,
    block_bytes: int = LRN_BLOCK_BYTES,
    progress: Progress | None = None,
) -> NormResult:
    """Normalize `x` (usually a read-only memory map) into the .npy `output` ('-': stdout)."""
    from normcli.io.writers import open_npy_stream

    out_dtype = output_dtype(x.dtype, f"{spec.kind} norm")
    dtype = compute_dtype(out_dtype)
    result = NormResult(out_dtype, spec.eps_for(x.dtype))
    channels = x.shape[spec.stats_axis] if x.ndim else 0
    if with_stats:
        result.before, result.after = ChannelStats.empty(channels), ChannelStats.empty(channels)
    two_pass = spec.kind == "batch" and running is None
    hist_before, hist_after = Histogram(), Histogram()
    total = x.nbytes * (2 if two_pass else 1)
    done = 0
    fixed = None
    if running is not None:
        fixed = fixed_params(spec, x.shape, running[0], running[1], result.eps, dtype, gamma, beta)
    elif two_pass:  # pass 1: the statistics of every channel
        acc: Moments | None = None
        for block in _blocks(x, spec, block_bytes):
            m = tile_moments(spec.view(block.shape), block, spec.centered, exact=False)
            acc = m if acc is None else acc.merge(m)
            if result.before is not None:
                result.before.add(block, spec.stats_axis)
            done += block.nbytes
            if progress:
                progress("norm: statistics", done, total)
        if acc is not None:
            fixed = fixed_params(spec, x.shape, acc, None, result.eps, dtype, gamma, beta)
    with open_npy_stream(output, x.shape, out_dtype) as write:
        for block in _blocks(x, spec, block_bytes):
            y = np.empty(block.shape, dtype=out_dtype)
            with np.errstate(over="ignore", invalid="ignore"):
                if fixed is not None:
                    apply_params(spec.view(block.shape), block, fixed, y)
                else:
                    normalize_block(
                        spec.view(block.shape),
                        block,
                        per_channel=spec.kind in ("instance", "group"),
                        centered=spec.centered,
                        eps=result.eps,
                        gamma=gamma,
                        beta=beta,
                        out=y,
                        what=what_is_normalized(spec),
                    )
            if out_dtype == np.float16:
                result.overflow += count_overflow(block, y)
            if result.before is not None and not two_pass:
                result.before.add(block, spec.stats_axis)
            if result.after is not None:
                result.after.add(y, spec.stats_axis)
            if with_hist:
                hist_before.update(block)
                hist_after.update(y)
                result.histograms = {"before": hist_before.summary(), "after": hist_after.summary()}
            write(y)
            done += block.nbytes
            if progress:
                progress("norm", done, total)
    return result


def load_stats_file(path: str, spec: NormSpec, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-channel mean and variance for inference: an .npz (torch/Keras state, bn-stats'
    output) or a normcli scaler fitted with zscore on the channel axis as the feature axis."""
    from normcli.io.norm_files import load_running_stats

    if spec.kind != "batch":
        raise UsageError.about(
            "{stats} gives batch norm fixed statistics (inference mode); {kind} {knd} has none", knd=spec.kind
        )
    if path.lower().endswith(".json"):
        mean, var, mean_label, var_label = _stats_from_scaler(path, spec)
    else:
        mean, var, mean_label, var_label = load_running_stats(path)
    shape_c = spec.param_shape(shape)
    mean_c = check_param(mean, mean_label, shape_c, spec)
    var_c = check_param(var, var_label, shape_c, spec, variance=True)
    assert mean_c is not None and var_c is not None
    return mean_c, var_c, f"{path} ({mean_label.split(' in ')[0]}, {var_label.split(' in ')[0]})"


def _stats_from_scaler(path: str, spec: NormSpec) -> tuple[np.ndarray, np.ndarray, str, str]:
    from normcli.api import load

    scaler = load(path)
    layout = scaler.layout
    if not layout.is_array:
        raise DataError.about(
            "{stats} {path} is a scaler fitted on a table; fit it on the array with {method} zscore {axis} K", path=path
        )
    if layout.ndim != spec.ndim or layout.axis != spec.channel_axis:
        raise DataError.about(
            "{stats} {path} was fitted on {fitted_ndim}-D arrays with features on axis {fitted_axis}, "
            "but the channels here are axis {channel} of a {ndim}-D array",
            path=path,
            fitted_ndim=layout.ndim,
            fitted_axis=layout.axis,
            channel=spec.channel_axis,
            ndim=spec.ndim,
        )
    not_z = [c.name for c in scaler.columns if c.method != "zscore"]
    if not_z:
        raise DataError.about(
            "{stats} {path}: feature {feature} was fitted with {fitted_with}, not zscore",
            path=path,
            feature=not_z[0],
            fitted_with=scaler.columns[0].method,
        )
    mean = np.array([c.fitted["mean"] for c in scaler.columns], dtype=np.float64)
    std = np.array([c.fitted["std"] for c in scaler.columns], dtype=np.float64)
    return mean, std * std, f"zscore means in {path}", f"zscore variances (std^2) in {path}"


def bn_stats_files(
    arrays: Sequence[tuple[str, np.ndarray]],
    *,
    channel_axis: int,
    batch_size: int | None,
    momentum: float | None,
    convention: str,
    block_bytes: int = LRN_BLOCK_BYTES,
    progress: Progress | None = None,
) -> BNStats:
    """Population (and running) statistics over the arrays' mini-batches, in order."""
    from normcli.io.arrays import iter_blocks

    first_label, first = arrays[0]
    for label, x in arrays[1:]:
        if x.ndim != first.ndim or x.shape[1:] != first.shape[1:]:
            raise DataError(
                f"{label} has shape {x.shape} but {first_label} has {first.shape}; "
                f"mini-batches must agree on every axis but the first"
            )
    acc = PopulationStats(channel_axis=channel_axis, batch_size=batch_size, momentum=momentum, convention=convention)
    total = sum(x.nbytes for _, x in arrays)
    done = 0
    for label, x in arrays:
        if x.shape[0] == 0:
            raise DataError(f"{label} has no samples (its first axis is 0)")
        for block in iter_blocks(x, block_bytes):
            acc.add(block, label)
            done += block.nbytes
            if progress:
                progress("bn-stats", done, total)
        acc.end_array()
    return acc.finish()
