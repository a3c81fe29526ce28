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

Numerics: statistics are accumulated in float64 whatever the input dtype (two passes
inside each cache-sized tile, tiles merged with Chan's formula), so a float32 channel at
mean 1e4 with std 1 keeps its variance. The normalization itself runs in float64 for
float64 input; in float32 it subtracts the mean as a float32 head and a small tail
(y = (x - m_hi) * a + (beta - m_lo * a)), so the result is as accurate as float32 allows
even when |mean| >> std. float16 and integer input are computed in float32.

Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from normcli.errors import DataError, UsageError
from normcli.tensor.layout import as_float, as_int, compute_dtype, fmt, output_dtype, resolve_channel_axis

__all__ = [
    "CONVENTIONS",
    "KINDS",
    "Moments",
    "NormSpec",
    "Params",
    "apply_params",
    "channel_moments",
    "default_eps",
    "explain",
    "norm",
    "norm_apply",
    "params_from_moments",
    "resolve_norm_spec",
    "tile_moments",
]

KINDS = ("batch", "layer", "instance", "group", "rms")
CONVENTIONS = ("torch", "keras")

# Elements of one float64 tile of scratch: about 2 MiB, which stays in a 1 MiB L2 plus L3.
TILE_ELEMS = 1 << 18

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
_EPS = {
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
    naming the option and the fix.
    """
    knd = str(kind).lower()
    if knd not in KINDS:
        raise UsageError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    conv = str(convention).lower()
    if conv not in CONVENTIONS:
        raise UsageError(f"--convention {convention!r} is not one of {', '.join(CONVENTIONS)}")
    eps_v = None
    if eps is not None:
        eps_v = as_float("--eps", eps)
        if eps_v < 0:
            raise UsageError(f"--eps {fmt(eps_v)} must be >= 0 (it is added to the variance)")
    elif _EPS[conv][knd] is not None:
        eps_v = _EPS[conv][knd]
    notes: list[str] = []
    if knd in ("layer", "rms"):
        if layout is not None or channel_axis is not None:
            raise UsageError(
                f"--kind {knd} normalizes the last D axes of each sample (--normalized-dims D), "
                f"whatever the layout; drop --layout/--channel-axis"
            )
        if groups is not None:
            raise UsageError(f"--groups is for --kind group, not {knd}")
        if normalized_dims is None:
            if conv == "torch":
                raise UsageError(
                    f"--kind {knd} needs --normalized-dims D (torch's normalized_shape is the last D axes); "
                    f"e.g. --normalized-dims 1 for the last axis"
                )
            normalized_dims = 1
        dims = as_int("--normalized-dims", normalized_dims)
        if dims < 1:
            raise UsageError(f"--normalized-dims {dims} must be >= 1")
        if dims > ndim:
            raise UsageError(f"--normalized-dims {dims} is larger than the rank of the {ndim}-D array; use 1..{ndim}")
        if conv == "keras" and dims > 1:
            notes.append(f"keras: LayerNormalization(axis={list(range(-dims, 0))})")
        return NormSpec(knd, conv, ndim, None, dims, None, eps_v, tuple(notes))
    if normalized_dims is not None:
        raise UsageError(f"--normalized-dims is for --kind layer and rms, not {knd}")
    if ndim < 2:
        raise DataError(f"{knd} norm needs an array with a batch axis and a channel axis; got a {ndim}-D array")
    axis, _ = resolve_channel_axis(ndim, layout, channel_axis, 1 if conv == "torch" else ndim - 1)
    if knd in ("instance", "group") and axis == 0:
        raise UsageError(
            f"{knd} norm normalizes each sample on its own, so axis 0 is the samples; "
            f"pass --channel-axis 1 or later (or --layout NCHW/NHWC)"
        )
    if knd == "instance" and ndim < 3:
        raise DataError(
            f"instance norm reduces over the spatial axes, and a {ndim}-D (N, C) array has none "
            f"(one value per channel); use --kind batch or layer"
        )
    group_count = None
    if knd == "group":
        if groups is None:
            raise UsageError("--kind group needs --groups G (the channels are split into G groups)")
        group_count = as_int("--groups", groups)
        if group_count < 1:
            raise UsageError(f"--groups {group_count} must be >= 1")
        if shape is not None and shape[axis] % group_count:
            channels = shape[axis]
            divisors = [g for g in range(1, channels + 1) if channels % g == 0]
            raise UsageError(
                f"--groups {group_count} does not divide the {channels} channels (axis {axis}); "
                f"use one of {', '.join(map(str, divisors[:12]))}"
            )
    elif groups is not None:
        raise UsageError(f"--groups is for --kind group, not {knd}")
    return NormSpec(knd, conv, ndim, axis, None, group_count, eps_v, tuple(notes))


def explain(spec: NormSpec, shape: tuple[int, ...], dtype: Any, *, affine: str | None, stats: str | None) -> list[str]:
    """Human lines: which axes are reduced, eps, the formula and the affine parameters."""
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
        "--eps"
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
# Statistics
# --------------------------------------------------------------------------------------


@dataclass
class Moments:
    """Count, mean and sum of squared deviations (m2) of each statistic, float64, mergeable
    with Chan's formula. The mean is kept as `shift + dmean`, with `shift` a value of the
    data: sums run over x - shift, so their rounding scales with the spread of the data,
    not its magnitude, and statistics at 1e9 with std 1 merge to the one-shot numbers (as
    `normcli.stats.ColumnStats` does per column). Uncentred (rms): shift and dmean stay 0
    and m2 is the sum of squares."""

    count: np.ndarray
    shift: np.ndarray
    dmean: np.ndarray
    m2: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.shift + self.dmean

    @property
    def var(self) -> np.ndarray:
        """The biased (population) variance m2/n (or mean of squares, uncentred)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.m2 / self.count

    def merge(self, other: Moments) -> Moments:
        """The moments of both parts together (Chan), in this part's shift."""
        n = self.count + other.count
        with np.errstate(invalid="ignore", divide="ignore"):
            other_dmean = (other.shift - self.shift) + other.dmean
            delta = other_dmean - self.dmean
            wb = np.where(n > 0, other.count / np.maximum(n, 1), 0.0)
            dmean = self.dmean + delta * wb
            m2 = self.m2 + other.m2 + delta * delta * (self.count * wb)
        empty_a, empty_b = self.count == 0, other.count == 0
        return Moments(
            n,
            np.where(empty_a, other.shift, self.shift),
            np.where(empty_a, other.dmean, np.where(empty_b, self.dmean, dmean)),
            np.where(empty_a, other.m2, np.where(empty_b, self.m2, m2)),
        )

    def __getitem__(self, index: Any) -> Moments:
        return Moments(self.count[index], self.shift[index], self.dmean[index], self.m2[index])

    def __setitem__(self, index: Any, value: Moments) -> None:
        self.count[index], self.shift[index] = value.count, value.shift
        self.dmean[index], self.m2[index] = value.dmean, value.m2


def _tiles(view: tuple[int, ...]) -> Iterator[tuple[slice, slice]]:
    """(S, P) slices cutting a 5-D view into tiles of about TILE_ELEMS elements."""
    s_n, p_n = view[0], view[1]
    per_s = math.prod(view[1:])
    per_p = math.prod(view[2:])
    if per_s and per_s <= TILE_ELEMS:
        step = max(1, TILE_ELEMS // per_s)
        for s in range(0, s_n, step):
            yield slice(s, min(s + step, s_n)), slice(None)
        return
    step = max(1, TILE_ELEMS // max(per_p, 1))
    for s in range(s_n):
        for p in range(0, p_n, step):
            yield slice(s, s + 1), slice(p, min(p + step, p_n))


def tile_moments(spec: NormSpec, block: np.ndarray) -> Moments:
    """Moments of each statistic of a block of samples, shaped (S, G) (S = 1 for batch)."""
    block = np.ascontiguousarray(block)
    view = spec.view(block.shape)
    v = block.reshape(view)
    s_n, g_n = view[0], view[2]
    acc = Moments(*(np.zeros((s_n, g_n), dtype=np.float64) for _ in range(4)))
    for ss, ps in _tiles(view):
        x = v[ss, ps]
        t = np.empty(x.shape, dtype=np.float64)
        n = x.shape[1] * x.shape[3] * x.shape[4]
        if spec.centered and n:
            shift = np.array(x[:, :1, :, :1, :1], dtype=np.float64)  # a value of each statistic
            np.subtract(x, shift, out=t, dtype=np.float64)
            dmean = t.sum(axis=(1, 3, 4), keepdims=True)
            dmean /= n
            t -= dmean
            m2 = np.square(t, out=t).sum(axis=(1, 3, 4))
            tile = Moments(np.full(m2.shape, float(n)), shift.reshape(m2.shape), dmean.reshape(m2.shape), m2)
        else:
            np.copyto(t, x, casting="unsafe")
            m2 = np.square(t, out=t).sum(axis=(1, 3, 4))
            zeros = np.zeros(m2.shape)
            tile = Moments(np.full(m2.shape, float(n)), zeros, zeros, m2)
        acc[ss] = tile if ps == slice(None) else acc[ss].merge(tile)  # a row cut along P: merge its pieces
    return acc


def channel_moments(block: np.ndarray, channel_axis: int) -> Moments:
    """Per-channel moments of a block (batch norm's statistics), shaped (C,)."""
    spec = NormSpec("batch", "torch", block.ndim, channel_axis, None, None, 0.0)
    return tile_moments(spec, block)[0]


# --------------------------------------------------------------------------------------
# Applying the statistics
# --------------------------------------------------------------------------------------


@dataclass
class Params:
    """Per-statistic scale and shift, ready to apply: y = (x - head) * scale + shift, where
    head is the mean rounded to the compute dtype and shift folds in beta and the rest of
    the mean. Arrays broadcast against the 5-D view."""

    head: np.ndarray
    scale: np.ndarray
    shift: np.ndarray


def _bad_variance(spec: NormSpec, var: np.ndarray, eps: float, what: str) -> DataError:
    bad = int(np.count_nonzero(var + eps <= 0))
    kind = "mean square" if spec.kind == "rms" else "variance"
    return DataError(
        f"{kind} + eps <= 0 for {bad} of {var.size} {what} (eps={fmt(eps)}: a constant {what.rstrip('s')}"
        f" has {kind} 0); use --eps > 0"
    )


def params_from_moments(
    spec: NormSpec,
    mean: np.ndarray | tuple[np.ndarray, np.ndarray],
    var: np.ndarray,
    eps: float,
    dtype: np.dtype,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    shape: tuple[int, ...],
    what: str = "statistics",
) -> Params:
    """Scale and shift from per-statistic mean and variance (shaped (S, G)), in float64,
    then split for the compute `dtype`. `mean` may be a pair (shift, dmean) whose sum is
    the mean, kept apart for accuracy. Raises DataError where var + eps <= 0."""
    view = spec.view(shape)
    stat_shape = (-1, 1, view[2], 1, 1)
    if isinstance(mean, tuple):
        base, rest = (np.asarray(m, dtype=np.float64).reshape(stat_shape) for m in mean)
    else:
        base, rest = np.asarray(mean, dtype=np.float64).reshape(stat_shape), np.zeros(1)
    var = np.asarray(var, dtype=np.float64).reshape(-1, 1, view[2], 1, 1)
    with np.errstate(invalid="ignore"):
        if np.any(var + eps <= 0):
            raise _bad_variance(spec, var, eps, what)
        inv = 1.0 / np.sqrt(var + eps)
    if spec.kind in ("layer", "rms"):
        pview: tuple[int, ...] = (1, 1, 1, 1, view[4])
    else:
        pview = (1, 1, view[2], view[3], 1)
    scale = inv if gamma is None else inv * np.asarray(gamma, dtype=np.float64).reshape(pview)
    b = np.zeros(1) if beta is None else np.asarray(beta, dtype=np.float64).reshape(pview)
    head = (base + rest).astype(dtype)
    tail = (base - head.astype(np.float64)) + rest
    shift = b - tail * scale
    return Params(head, scale.astype(dtype), shift.astype(dtype))


def apply_params(spec: NormSpec, block: np.ndarray, params: Params, out: np.ndarray) -> None:
    """out = (block - head) * scale + shift over the 5-D view, tile by tile in the compute
    dtype. `out` has the block's shape and the output dtype (it may be float16)."""
    dtype = params.scale.dtype
    block = np.ascontiguousarray(block)
    view = spec.view(block.shape)
    v = block.reshape(view)
    o = out.reshape(view)
    direct = out.dtype == dtype
    uniform_s = params.head.shape[0] == 1 and params.scale.shape[0] == 1 and params.shift.shape[0] == 1
    for ss, ps in _tiles(view):
        target = o[ss, ps] if direct else np.empty(v[ss, ps].shape, dtype=dtype)
        head = params.head if params.head.shape[0] == 1 or uniform_s else params.head[ss]
        scale = params.scale if params.scale.shape[0] == 1 else params.scale[ss]
        shift = params.shift if params.shift.shape[0] == 1 else params.shift[ss]
        if spec.centered:
            np.subtract(v[ss, ps], head, out=target, dtype=dtype, casting="unsafe")
            np.multiply(target, scale, out=target)
        else:
            np.multiply(v[ss, ps], scale, out=target, dtype=dtype, casting="unsafe")
        if spec.centered or np.any(shift):
            np.add(target, shift, out=target)
        if not direct:
            o[ss, ps] = target


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
    with np.errstate(over="ignore"):
        mean: np.ndarray | tuple[np.ndarray, np.ndarray]
        if running_mean is not None and running_var is not None:
            mean, var = np.asarray(running_mean)[None, :], np.asarray(running_var)[None, :]
            what = "channels"
        else:
            m = tile_moments(spec, x)
            mean, var = (m.shift, m.dmean), m.var
            what = "channels" if spec.kind == "batch" else "groups" if spec.kind == "group" else "samples"
            if spec.kind == "instance":
                what = "(sample, channel) pairs"
        params = params_from_moments(spec, mean, var, eps, dtype, gamma, beta, x.shape, what)
        apply_params(spec, x, params, out)
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
    """`value` as a float64 array of `shape` (what the kind and layout need), or a DataError
    naming both shapes; `label` says what and where the array is ("weight in bn.npz")."""
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
    out = arr.astype(np.float64)
    if variance and np.any(out < 0):
        raise DataError(f"{label} has negative values; a variance is >= 0")
    return out
