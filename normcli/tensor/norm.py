"""Batch, layer, instance, group and RMS normalization of activation arrays.

Every kind computes y = (x - mean) / sqrt(var + eps) * gamma + beta with the biased
(population) variance, RMS y = x / sqrt(mean(x^2) + eps) * gamma; they differ only in
which axes the statistics reduce over. `resolve_norm_spec` turns a kind, a convention and
the user's options into one explicit `NormSpec`; the kernels then see every kind through
one 5-D view of the array, (S, P, G, Q, T): statistics are indexed by (S, G) and reduce
over P, Q and T; gamma and beta are indexed by (G, Q) (a channel) or T (layer/rms).

    batch     (1, prod(before C), C, 1, prod(after C))       per channel
    instance  (N, prod(between N and C), C, 1, prod(after C)) per sample and channel
    group     (N, prod(between N and C), G, C/G, prod(after C)) per sample and group
    layer/rms (prod(leading), 1, 1, 1, prod(last D))          per sample

A C-ordered array reshapes to its view without a copy, so the kernels work tile by tile on
any block of samples (the streaming pipeline feeds them blocks of a memory map).

Numerics: statistics are taken on shifted data (centred on a value near the mean), tile by
tile, tiles merged with Chan's formula, so a float32 channel at mean 1e4 with std 1 keeps
its variance. The normalization itself runs in float64 for float64 input; in float32 it
subtracts the mean as a float32 head and a small tail (y = (x - head) * a + (beta - tail *
a)), so the result is as accurate as float32 allows even when |mean| >> std. float16 and
integer input are computed in float32. See `normcli.tensor.norm_kernel` for the details.

Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from normcli.errors import DataError, OptionError, UsageError
from normcli.tensor.layout import as_float, as_int, compute_dtype, fmt, output_dtype, resolve_channel_axis
from normcli.tensor.norm_kernel import (
    Moments,
    Params,
    apply_params,
    inverse_std,
    make_params,
    normalize_block,
    tile_moments,
)

__all__ = [
    "CONVENTIONS",
    "KINDS",
    "NormSpec",
    "channel_moments",
    "check_param",
    "default_eps",
    "explain",
    "fixed_params",
    "moments_of",
    "norm",
    "norm_apply",
    "resolve_norm_spec",
    "what_is_normalized",
]

KINDS = ("batch", "layer", "instance", "group", "rms")
CONVENTIONS = ("torch", "keras")

FRAMEWORK_NAMES = {
    ("torch", "batch"): "torch.nn.functional.batch_norm / nn.BatchNorm{1,2,3}d",
    ("torch", "layer"): "torch.nn.functional.layer_norm / nn.LayerNorm",
    ("torch", "instance"): "torch.nn.functional.instance_norm / nn.InstanceNorm{1,2,3}d",
    ("torch", "group"): "torch.nn.functional.group_norm / nn.GroupNorm",
    ("torch", "rms"): "torch.nn.functional.rms_norm / nn.RMSNorm",
    ("keras", "batch"): "keras.layers.BatchNormalization",
    ("keras", "layer"): "keras.layers.LayerNormalization",
    ("keras", "instance"): "keras.layers.GroupNormalization(groups=-1)",
    ("keras", "group"): "keras.layers.GroupNormalization",
    ("keras", "rms"): "keras.layers.RMSNormalization",
}

# eps defaults; None: torch's rms_norm default, the machine epsilon of the input's dtype.
# batch norm folds the mean into the shift (y = x * a + b, one pass fewer) when no channel's
# |mean| / std exceeds this; beyond it, x - mean is taken first so float32 keeps its precision.
FOLD_MEAN_BELOW = 8.0

_EPS: dict[str, dict[str, float | None]] = {
    "torch": {"batch": 1e-5, "layer": 1e-5, "instance": 1e-5, "group": 1e-5, "rms": None},
    "keras": {"batch": 1e-3, "layer": 1e-3, "instance": 1e-3, "group": 1e-3, "rms": 1e-6},
}


def default_eps(convention: str, kind: str, dtype: Any) -> float:
    """The convention's eps for `kind` on input of `dtype`."""
    eps = _EPS[convention][kind]
    if eps is None:
        dt = np.dtype(dtype)
        return float(np.finfo(dt if dt.kind == "f" else np.float32).eps)
    return eps


@dataclass(frozen=True)
class NormSpec:
    """A fully resolved normalization: the kind, its axes and eps, nothing left to guess.

    `channel_axis` is set for batch, instance and group; `normalized_dims` (the last D
    axes, torch's `normalized_shape`) for layer and rms; `groups` for group (instance is
    group with one channel per group). `eps` is None when it is the convention's default
    for the input's dtype (torch rms), resolved by `eps_for`.
    """

    kind: str
    convention: str
    ndim: int
    channel_axis: int | None
    normalized_dims: int | None
    groups: int | None
    eps: float | None
    notes: tuple[str, ...] = ()

    def eps_for(self, dtype: Any) -> float:
        return default_eps(self.convention, self.kind, dtype) if self.eps is None else self.eps

    @property
    def stats_axis(self) -> int:
        """The axis whose index a report shows statistics for: the channels (or the last axis)."""
        return self.channel_axis if self.channel_axis is not None else self.ndim - 1

    def view(self, shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """The (S, P, G, Q, T) view of a block of `shape` (see the module docstring)."""
        if self.kind in ("layer", "rms"):
            d = self.normalized_dims or 1
            return (math.prod(shape[:-d]), 1, 1, 1, math.prod(shape[-d:]))
        k = self.channel_axis
        assert k is not None
        channels, after = shape[k], math.prod(shape[k + 1 :])
        if self.kind == "batch":
            return (1, math.prod(shape[:k]), channels, 1, after)
        groups = channels if self.kind == "instance" else (self.groups or 1)
        return (shape[0], math.prod(shape[1:k]), groups, channels // groups, after)

    def param_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape gamma and beta must have for an array of `shape`."""
        if self.kind in ("layer", "rms"):
            return tuple(shape[-(self.normalized_dims or 1) :])
        assert self.channel_axis is not None
        return (shape[self.channel_axis],)

    @property
    def centered(self) -> bool:
        return self.kind != "rms"


def resolve_norm_spec(
    *,
    ndim: int,
    shape: tuple[int, ...] | None = None,
    kind: str,
    convention: str = "torch",
    eps: float | None = None,
    groups: int | None = None,
    normalized_dims: int | None = None,
    layout: str | None = None,
    channel_axis: int | None = None,
) -> NormSpec:
    """Turn a kind, a convention and the user's options into an explicit `NormSpec`.

    Channels default to axis 1 for torch and the last axis for keras (as their layers do);
    `layout` or `channel_axis` moves them. Layer and rms normalize the last
    `normalized_dims` axes (keras default 1, its axis=-1; torch has no default). With
    `shape`, groups and normalized_dims are checked against the array. Raises UsageError
    naming the parameter and the fix.
    """
    knd = str(kind).lower()
    if knd not in KINDS:
        raise UsageError.about("{kind} {given!r} is not one of {known}", given=kind, known=", ".join(KINDS))
    conv = str(convention).lower()
    if conv not in CONVENTIONS:
        raise UsageError.about(
            "{convention} {given!r} is not one of {known}", given=convention, known=", ".join(CONVENTIONS)
        )
    eps_v = None
    if eps is not None:
        eps_v = as_float("eps", eps)
        if eps_v < 0:
            raise OptionError(
                "eps", fmt(eps_v), ">= 0", "{parameter} {value} must be {requirement} (it is added to the variance)"
            )
    elif _EPS[conv][knd] is not None:
        eps_v = _EPS[conv][knd]
    notes: list[str] = []
    if knd in ("layer", "rms"):
        if layout is not None or channel_axis is not None:
            raise UsageError.about(
                "{kind} {knd} normalizes the last D axes of each sample ({normalized_dims} D), "
                "whatever the layout; drop {layout}/{channel_axis}",
                knd=knd,
            )
        if groups is not None:
            raise UsageError.about("{groups} is for {kind} group, not {knd}", knd=knd)
        if normalized_dims is None:
            if conv == "torch":
                raise UsageError.about(
                    "{kind} {knd} needs {normalized_dims} D (torch's normalized_shape is the last D axes); "
                    "e.g. {normalized_dims} 1 for the last axis",
                    knd=knd,
                )
            normalized_dims = 1
        dims = as_int("normalized_dims", normalized_dims)
        if dims < 1:
            raise OptionError("normalized_dims", dims, ">= 1", "{parameter} {value} must be {requirement}")
        if dims > ndim:
            raise UsageError.about(
                "{normalized_dims} {dims} is larger than the rank of the {ndim}-D array; use 1..{ndim}",
                dims=dims,
                ndim=ndim,
            )
        if conv == "keras" and dims > 1:
            notes.append(f"keras: LayerNormalization(axis={list(range(-dims, 0))})")
        return NormSpec(knd, conv, ndim, None, dims, None, eps_v, tuple(notes))
    if normalized_dims is not None:
        raise UsageError.about("{normalized_dims} is for {kind} layer and rms, not {knd}", knd=knd)
    if ndim < 2:
        raise DataError(f"{knd} norm needs an array with a batch axis and a channel axis; got a {ndim}-D array")
    axis, _ = resolve_channel_axis(ndim, layout, channel_axis, 1 if conv == "torch" else ndim - 1)
    if knd in ("instance", "group") and axis == 0:
        raise UsageError.about(
            "{knd} norm normalizes each sample on its own, so axis 0 is the samples; "
            "pass {channel_axis} 1 or later (or {layout} NCHW/NHWC)",
            knd=knd,
        )
    if knd == "instance" and ndim < 3:
        raise DataError.about(
            "instance norm reduces over the spatial axes, and a {ndim}-D (N, C) array has none "
            "(one value per channel); use {kind} batch or layer",
            ndim=ndim,
        )
    group_count = None
    if knd == "group":
        if groups is None:
            raise UsageError.about("{kind} group needs {groups} G (the channels are split into G groups)")
        group_count = as_int("groups", groups)
        if group_count < 1:
            raise OptionError("groups", group_count, ">= 1", "{parameter} {value} must be {requirement}")
        if shape is not None and shape[axis] % group_count:
            channels = shape[axis]
            divisors = [g for g in range(1, channels + 1) if channels % g == 0]
            raise UsageError.about(
                "{groups} {count} does not divide the {channels} channels (axis {axis}); use one of {divisors}",
                count=group_count,
                channels=channels,
                axis=axis,
                divisors=", ".join(map(str, divisors[:12])),
            )
    elif groups is not None:
        raise UsageError.about("{groups} is for {kind} group, not {knd}", knd=knd)
    return NormSpec(knd, conv, ndim, axis, None, group_count, eps_v, tuple(notes))


def explain(
    spec: NormSpec,
    shape: tuple[int, ...],
    dtype: Any,
    *,
    affine: str | None,
    stats: str | None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Human lines: which axes are reduced, eps, the formula and the affine parameters;
    parameters are called by `names` (the command line's flags), else by their own names."""
    lines = [f"kind: {spec.kind} ({FRAMEWORK_NAMES[spec.convention, spec.kind]})"]
    others = [a for a in range(spec.ndim)]
    if spec.kind in ("layer", "rms"):
        d = spec.normalized_dims or 1
        reduced = others[-d:]
        lines.append(
            f"statistics: one per sample (each index of axes {others[:-d] or 'none'}), "
            f"over axes {reduced} (the last {d}, shape {tuple(shape[-d:])})"
        )
    else:
        k = spec.channel_axis
        assert k is not None
        if spec.kind == "batch":
            reduced = [a for a in others if a != k]
            what = "one per channel"
        elif spec.kind == "instance":
            reduced = [a for a in others if a not in (0, k)]
            what = "one per sample and channel"
        else:
            reduced = [a for a in others if a not in (0, k)]
            per = shape[k] // (spec.groups or 1)
            what = f"one per sample and group ({spec.groups} groups of {per} channels)"
        lines.append(f"channel axis: {k} of a {spec.ndim}-D array ({shape[k]} channels)")
        if stats is not None:
            lines.append(f"statistics: fixed per-channel mean and variance from {stats} (inference mode)")
        else:
            within = " and over the channels of each group" if spec.kind == "group" else ""
            lines.append(f"statistics: {what}, reduced over axes {reduced}{within}")
    eps = spec.eps_for(dtype)
    source = (
        (names or {}).get("eps", "eps")
        if spec.eps is not None and spec.eps != _EPS[spec.convention][spec.kind]
        else f"{spec.convention} default"
    )
    lines.append(f"eps: {fmt(eps)} ({source})")
    if spec.kind == "rms":
        lines.append("formula: y = x / sqrt(mean(x^2) + eps) * gamma")
    else:
        lines.append("formula: y = (x - mean) / sqrt(var + eps) * gamma + beta, var biased (population)")
    lines.append(f"affine: {affine}" if affine else "affine: none (gamma = 1, beta = 0)")
    lines.extend(f"note: {note}" for note in spec.notes)
    return lines


# --------------------------------------------------------------------------------------
# Statistics and the in-memory kernel
# --------------------------------------------------------------------------------------


def moments_of(spec: NormSpec, block: np.ndarray) -> Moments:
    """Moments of each statistic of a block of samples, shaped (S, G) (S = 1 for batch)."""
    return tile_moments(spec.view(block.shape), block, spec.centered)


def channel_moments(block: np.ndarray, channel_axis: int) -> Moments:
    """Per-channel moments of a block (batch norm's statistics), shaped (C,)."""
    spec = NormSpec("batch", "torch", block.ndim, channel_axis, None, None, 0.0)
    return moments_of(spec, block)[0]


def what_is_normalized(spec: NormSpec) -> str:
    """What one statistic is, for messages."""
    return {"batch": "channels", "group": "groups", "instance": "(sample, channel) pairs"}.get(spec.kind, "samples")


def fixed_params(
    spec: NormSpec,
    shape: tuple[int, ...],
    mean: np.ndarray | Moments,
    var: np.ndarray | None,
    eps: float,
    dtype: np.dtype,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
) -> Params:
    """Params of batch norm from merged moments (training) or running mean and var (inference)."""
    if isinstance(mean, Moments):
        head, tail, var = mean.shift, mean.dmean, mean.var
    else:
        head, tail = np.asarray(mean, dtype=np.float64).reshape(1, -1), np.zeros((1, mean.size))
        var = np.asarray(var, dtype=np.float64).reshape(1, -1)
    rounded = (head + tail).astype(dtype).astype(np.float64)  # the mean as the compute dtype holds it
    tail = (head - rounded) + tail
    inv = inverse_std(var, eps, "channels", False)
    view = spec.view(shape)
    with np.errstate(invalid="ignore", over="ignore"):
        offset = float(np.nanmax(np.abs(rounded) * inv, initial=0.0))
    if offset <= FOLD_MEAN_BELOW:
        # x * a + (beta - mean * a): one pass fewer; its rounding, ulp(|x * a|), stays below
        # (|y| + offset) * 2^-24 relative to the output when |mean| / std <= offset.
        params = make_params(view, True, True, np.zeros_like(rounded), rounded + tail, inv, gamma, beta, dtype)
        params.head = None
        return params
    return make_params(view, True, True, rounded, tail, inv, gamma, beta, dtype)


def norm_apply(
    x: np.ndarray,
    spec: NormSpec,
    *,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Normalize the in-memory array `x` as `spec` says (training mode: its own statistics;
    with running_mean/running_var, batch norm's inference mode). Returns `out`."""
    x = np.asarray(x)
    if x.ndim != spec.ndim:
        raise ValueError(f"spec was resolved for {spec.ndim}-D input but x is {x.ndim}-D")
    result_dtype = output_dtype(x.dtype, f"{spec.kind} norm")
    if out is None:
        out = np.empty(x.shape, dtype=result_dtype)
    if x.size == 0:
        return out
    dtype = compute_dtype(result_dtype)
    eps = spec.eps_for(x.dtype)
    view = spec.view(x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        if spec.kind == "batch":
            if running_mean is not None and running_var is not None:
                params = fixed_params(spec, x.shape, running_mean, running_var, eps, dtype, gamma, beta)
            else:
                moments = tile_moments(view, x, spec.centered, exact=False)
                params = fixed_params(spec, x.shape, moments, None, eps, dtype, gamma, beta)
            apply_params(view, x, params, out)
        else:
            per_channel = spec.kind in ("instance", "group")
            normalize_block(
                view,
                x,
                per_channel=per_channel,
                centered=spec.centered,
                eps=eps,
                gamma=gamma,
                beta=beta,
                out=out,
                what=what_is_normalized(spec),
            )
    return out


def norm(
    x: Any,
    kind: str = "batch",
    *,
    convention: str = "torch",
    eps: float | None = None,
    groups: int | None = None,
    normalized_dims: int | None = None,
    layout: str | None = None,
    channel_axis: int | None = None,
    gamma: Any = None,
    beta: Any = None,
    running_mean: Any = None,
    running_var: Any = None,
) -> np.ndarray:
    """Batch, layer, instance, group or RMS normalization of `x`, as PyTorch or Keras compute it.

    `kind` batch normalizes each channel over the batch and spatial axes, instance each
    (sample, channel), group each (sample, group of C/groups channels), layer and rms each
    sample over its last `normalized_dims` axes. Channels are on axis 1 for torch and last
    for keras unless `layout` ("NCHW"/"NHWC") or `channel_axis` says otherwise. `eps`
    defaults to the convention's (torch 1e-5, rms: the dtype's machine epsilon; keras 1e-3,
    rms 1e-6). `gamma`/`beta` (torch's weight/bias) have one value per channel, or the
    shape of the normalized axes for layer/rms. With `running_mean` and `running_var`
    (batch only) the statistics are fixed: inference mode.
    """
    arr = np.asarray(x)
    spec = resolve_norm_spec(
        ndim=arr.ndim,
        shape=arr.shape,
        kind=kind,
        convention=convention,
        eps=eps,
        groups=groups,
        normalized_dims=normalized_dims,
        layout=layout,
        channel_axis=channel_axis,
    )
    shape = spec.param_shape(arr.shape)
    g = check_param(gamma, "gamma", shape, spec)
    b = check_param(beta, "beta", shape, spec)
    if spec.kind == "rms" and b is not None:
        raise UsageError("rms norm has no beta (no centring, no shift); drop beta")
    if (running_mean is None) != (running_var is None):
        raise UsageError("give running_mean and running_var together (inference mode needs both)")
    rm = rv = None
    if running_mean is not None:
        if spec.kind != "batch":
            raise UsageError(f"running statistics are batch norm's (inference mode), not {spec.kind} norm's")
        rm = check_param(running_mean, "running_mean", shape, spec)
        rv = check_param(running_var, "running_var", shape, spec, variance=True)
    return norm_apply(arr, spec, gamma=g, beta=b, running_mean=rm, running_var=rv)


def check_param(
    value: Any, label: str, shape: tuple[int, ...], spec: NormSpec, *, variance: bool = False
) -> np.ndarray | None:
    """`value` as a float array of `shape` (what the kind and layout need), or a DataError
    naming both shapes; `label` says what and where the array is ("weight in bn.npz").
    float32 and float64 arrays are returned as they are (every use widens them exactly, and
    layer norm's float32 weights of a sample's size are not copied twice); others as float64."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise DataError(f"{label} has dtype {arr.dtype}; it must hold real numbers (float or integer)")
    if arr.shape != shape:
        if spec.kind in ("layer", "rms"):
            need = f"the shape of the last {spec.normalized_dims} axes, {shape}"
        else:
            need = f"one value per channel, ({shape[0]},) for channel axis {spec.channel_axis}"
        raise DataError(f"{label} has shape {arr.shape} but {spec.kind} norm of this array needs {need}")
    out = arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)
    if variance and np.any(out < 0):
        raise DataError(f"{label} has negative values; a variance is >= 0")
    return out
