"""Local Response Normalization (LRN) with the conventions of TF, PyTorch, ONNX and Caffe.

Every convention computes

    y_c = x_c * (k + s * sum_{j = c-lo .. c+hi} x_j^2) ** (-beta)

where channels outside the array count as zero and the divisor does not shrink at the
edges. The conventions differ only in their defaults, in where the window sits (lo, hi),
in how alpha becomes the scale s, and in which axis holds the channels; `resolve_spec`
turns a convention name plus the user's options into one explicit `LRNSpec`, and
`lrn_apply` is the single kernel that evaluates it.

The kernel works on a tile of the input at a time (whole windows, a block of samples),
so it runs in cache, never builds a full-size temporary, and can stream a
`np.load(mmap_mode="r")` input into an `open_memmap` output. Window sums add shifted
slices directly (pairwise, never running differences or prefix sums), so NaN and inf stay
inside their own windows and float32 keeps ~1e-7 relative accuracy even when channel
magnitudes differ by orders of magnitude.

Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from normcli.errors import DataError, UsageError
from normcli.tensor import layout as _layout
from normcli.tensor.layout import as_float as _as_float
from normcli.tensor.layout import as_int as _as_int
from normcli.tensor.layout import count_overflow
from normcli.tensor.layout import fmt as _fmt

__all__ = [
    "CONVENTIONS",
    "REGIONS",
    "LAYOUTS",
    "DEFAULT_BLOCK_BYTES",
    "LRNSpec",
    "resolve_spec",
    "explain",
    "lrn",
    "lrn_apply",
    "output_dtype",
    "count_overflow",
]

CONVENTIONS = ("tf", "torch", "onnx", "caffe")
REGIONS = ("across", "within")
LAYOUTS = _layout.LAYOUTS

# The size of one tile of the input, in the compute dtype. The kernel keeps about six
# tile-sized scratch buffers. Measured on a 2-core EPYC (1 MiB L2, 32 MiB L3) for AlexNet
# shapes: 1.5-3 MiB tiles (one or two whole samples, contiguous in memory) were fastest;
# tiles cut inside a sample make strided views and pay per-call overhead (~1.5x slower),
# and tiles past ~4 MiB spill the L3 (~1.7x slower).
DEFAULT_BLOCK_BYTES = 2 * 1024 * 1024

_FRAMEWORK_NAMES = {
    "tf": "tf.nn.local_response_normalization",
    "torch": "torch.nn.LocalResponseNorm",
    "onnx": "ONNX LRN",
    "caffe": "Caffe LRN layer",
}

_SHORT_NAMES = {"tf": "TF", "torch": "torch", "onnx": "ONNX", "caffe": "Caffe"}

# alpha, beta, bias defaults per convention (size defaults are handled separately).
_DEFAULTS = {
    "tf": (1.0, 0.5, 1.0),
    "torch": (1e-4, 0.75, 1.0),
    "onnx": (1e-4, 0.75, 1.0),
    "caffe": (1.0, 0.75, 1.0),
}


@dataclass(frozen=True)
class LRNSpec:
    """A fully resolved LRN: everything the kernel needs, with no convention left to guess.

    `lo` and `hi` are the channels taken before and after each channel (for the Caffe
    "within" region they are the box's reach before and after along each of the two axes
    after the channel axis), `size` is the window length (lo + hi + 1), `scale` is s and
    `bias` is k in y = x * (k + s * sum x^2) ** -beta. `alpha` is the user's alpha as the
    convention defines it, kept for reports. `notes` are sentences for a human about
    choices that differ from the framework's own behaviour.
    """

    convention: str
    region: str
    ndim: int
    channel_axis: int
    lo: int
    hi: int
    size: int
    scale: float
    bias: float
    beta: float
    alpha: float
    notes: tuple[str, ...] = ()

    @property
    def window_axes(self) -> tuple[int, ...]:
        """The axes a window spans: the channel axis, or the two box axes for "within"."""
        if self.region == "within":
            return (self.channel_axis + 1, self.channel_axis + 2)
        return (self.channel_axis,)


# --------------------------------------------------------------------------------------
# Resolving options into a spec
# --------------------------------------------------------------------------------------


def _resolve_channel_axis(ndim: int, convention: str, layout: str | None, channel_axis: Any) -> tuple[int, str | None]:
    """The non-negative channel axis, and the option that chose it (None: the default)."""
    return _layout.resolve_channel_axis(ndim, layout, channel_axis, ndim - 1 if convention == "tf" else 1)


def _convention_notes(convention: str, ndim: int, axis: int, chosen_by: str | None) -> list[str]:
    """Check the framework's own rank/layout rule; an explicit axis option lifts it with a note."""
    if convention == "tf":
        native = ndim == 4 and axis == 3
        rule = "TF accepts only 4-D NHWC input"
        fix = "pass --channel-axis (e.g. -1) to apply TF's formula on another layout"
    elif convention == "torch":
        native = ndim >= 3 and axis == 1
        rule = "torch accepts only (N, C, ...) input with 3 or more axes"
        fix = "pass --channel-axis to apply torch's formula on another layout"
    elif convention == "caffe":
        native = ndim == 4 and axis == 1
        rule = "Caffe's LRN layer accepts only 4-D NCHW input"
        fix = "pass --channel-axis to apply Caffe's formula on another layout"
    else:  # onnx: (N x C x D1 x ... x Dn)
        native = axis == 1
        rule = "ONNX LRN takes channels on axis 1 (N x C x D1 ... Dn)"
        fix = "pass --channel-axis"
    if native:
        return []
    if chosen_by is None:
        raise UsageError(f"{rule} but the array is {ndim}-D; {fix}")
    return [
        f"{rule}; {chosen_by} given (channels on axis {axis} of a {ndim}-D array), "
        f"so this is {_SHORT_NAMES[convention]}'s formula on another layout"
    ]


def _resolve_size(convention: str, size: Any, depth_radius: Any) -> int:
    """The window length from --size or --depth-radius, with each convention's rules."""
    if size is not None and depth_radius is not None:
        raise UsageError(
            f"give --size or --depth-radius, not both (got --size {size} and "
            f"--depth-radius {depth_radius}); --depth-radius R means --size 2R+1"
        )
    if depth_radius is not None:
        radius = _as_int("--depth-radius", depth_radius)
        if radius < 0:
            raise UsageError(f"--depth-radius {radius} must be >= 0")
        return 2 * radius + 1
    if size is None:
        if convention == "tf":
            return 2 * 5 + 1
        if convention == "caffe":
            return 5
        raise UsageError(
            f"--size is required for --convention {convention} "
            f"({_FRAMEWORK_NAMES[convention]} has no default window); e.g. --size 5"
        )
    window = _as_int("--size", size)
    if window < 1:
        raise UsageError(f"--size {window} must be >= 1")
    if window % 2 == 0 and convention == "tf":
        raise UsageError(
            f"--size {window} is even but TF's window is 2*depth_radius+1 channels; "
            f"use an odd --size or --depth-radius (or --convention torch/onnx for even windows)"
        )
    if window % 2 == 0 and convention == "caffe":
        raise UsageError(
            f"--size {window} is even but Caffe's local_size must be odd; use --size {window - 1} or {window + 1}"
        )
    return window


def resolve_spec(
    *,
    ndim: int,
    convention: str = "torch",
    size: int | None = None,
    depth_radius: int | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bias: float | None = None,
    region: str = "across",
    layout: str | None = None,
    channel_axis: int | None = None,
) -> LRNSpec:
    """Turn a convention name and the user's options into an explicit `LRNSpec`.

    Missing parameters take the convention's defaults, so `lrn` with only a convention
    reproduces that framework. A framework's own input rule (TF: 4-D NHWC; torch: 3 or
    more axes, channels on axis 1; Caffe: 4-D NCHW) is enforced unless the user names
    the channel axis (`layout` "NHWC"/"NCHW" or `channel_axis`), which lifts it with a
    note. Raises UsageError for any bad option, naming the CLI option and the fix.
    """
    conv = str(convention).lower()
    if conv not in CONVENTIONS:
        raise UsageError(f"--convention {convention!r} is not one of {', '.join(CONVENTIONS)}")
    reg = str(region).lower()
    if reg not in REGIONS:
        raise UsageError(f"--region {region!r} is not one of {', '.join(REGIONS)}")
    if reg == "within" and conv != "caffe":
        raise UsageError(
            f"--region within is Caffe's spatial LRN but --convention is {conv}; "
            f"use --convention caffe (tf, torch and onnx normalize across channels only)"
        )
    ndim = operator.index(ndim)
    if ndim < 2:
        raise DataError(f"LRN needs an array with a channel axis and at least one other axis; got a {ndim}-D array")
    axis, chosen_by = _resolve_channel_axis(ndim, conv, layout, channel_axis)
    notes = _convention_notes(conv, ndim, axis, chosen_by)
    if reg == "within" and axis + 2 >= ndim:
        raise UsageError(
            f"--region within sums an n x n box over the two axes after the channel axis, "
            f"but channel axis {axis} of a {ndim}-D array has {ndim - 1 - axis} after it; "
            f"pass --channel-axis <= {ndim - 3}"
            if ndim >= 3
            else f"--region within needs a channel axis followed by two spatial axes; got a {ndim}-D array"
        )
    window = _resolve_size(conv, size, depth_radius)

    default_alpha, default_beta, default_bias = _DEFAULTS[conv]
    alpha_v = default_alpha if alpha is None else _as_float("--alpha", alpha)
    beta_v = default_beta if beta is None else _as_float("--beta", beta)
    if beta_v < 0:
        raise UsageError(f"--beta {_fmt(beta_v)} must be >= 0 (the divisor is raised to beta)")
    if reg == "within":
        if bias is not None and _as_float("--bias", bias) != 1.0:
            raise UsageError(
                f"--bias {_fmt(_as_float('--bias', bias))} cannot be used with --region "
                f"within: Caffe fixes k=1 there (drop --bias, or use --region across)"
            )
        bias_v = 1.0
    else:
        bias_v = default_bias if bias is None else _as_float("--bias", bias)

    if conv == "tf":
        lo = hi = (window - 1) // 2
        scale = alpha_v
    elif conv == "torch":
        lo, hi = window // 2, (window - 1) // 2
        scale = alpha_v / window
    elif conv == "onnx":
        lo, hi = (window - 1) // 2, window // 2
        scale = alpha_v / window
    elif reg == "across":
        lo = hi = (window - 1) // 2
        scale = alpha_v / window
    else:
        lo = hi = (window - 1) // 2
        scale = alpha_v / (window * window)

    if window % 2 == 0 and conv == "torch":
        notes.append(
            f"even size {window}: window is {lo} before, {hi} after (torch); ONNX puts the extra channel after"
        )
    elif window % 2 == 0 and conv == "onnx":
        notes.append(
            f"even size {window}: window is {lo} before, {hi} after (ONNX); torch puts the extra channel before"
        )
    return LRNSpec(
        convention=conv,
        region=reg,
        ndim=ndim,
        channel_axis=axis,
        lo=lo,
        hi=hi,
        size=window,
        scale=scale,
        bias=bias_v,
        beta=beta_v,
        alpha=alpha_v,
        notes=tuple(notes),
    )


def explain(spec: LRNSpec) -> list[str]:
    """Human lines saying which axis, which window and which formula `spec` means.

    Printed by `normcli lrn --explain`, so a user can check the convention before running
    it on a large array.
    """
    lines = [f"convention: {spec.convention} ({_FRAMEWORK_NAMES[spec.convention]})"]
    lines.append(f"channel axis: {spec.channel_axis} of a {spec.ndim}-D array")
    if spec.region == "within":
        a, b = spec.window_axes
        lines.append(
            f"window: a {spec.size} x {spec.size} box over axes {a} and {b} "
            f"({spec.lo} before and {spec.hi} after along each), within each channel; "
            f"positions outside the array count as zero"
        )
        how_s = f"s = alpha/size^2 = {_fmt(spec.alpha)}/{spec.size * spec.size}; Caffe fixes k at 1 here"
    else:
        lines.append(
            f"window: {spec.lo} channel(s) before and {spec.hi} after each channel "
            f"({spec.size} in all); channels past the edges count as zero"
        )
        if spec.convention == "tf":
            how_s = f"s = alpha = {_fmt(spec.alpha)} (TF does not divide by the window size); depth_radius = {spec.lo}"
        else:
            how_s = f"s = alpha/size = {_fmt(spec.alpha)}/{spec.size}"
    lines.append(
        f"formula: y = x * ({_fmt(spec.bias)} + {_fmt(spec.scale)} * sum(x^2 over window))^(-{_fmt(spec.beta)})"
    )
    lines.append(f"  where {how_s}")
    lines.extend(f"note: {note}" for note in spec.notes)
    return lines


# --------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------


def output_dtype(dtype: Any) -> np.dtype:
    """The dtype `lrn_apply` returns for input of `dtype` (see `normcli.tensor.layout.output_dtype`)."""
    return _layout.output_dtype(dtype, "LRN")


_compute_dtype = _layout.compute_dtype


def _along(ndim: int, axis: int, start: int, stop: int) -> tuple[slice, ...]:
    """An index that takes [start:stop] on `axis` and everything on the other axes."""
    index = [slice(None)] * ndim
    index[axis] = slice(start, stop)
    return tuple(index)


Step = Callable[[], Any]


def _window_sum_steps(
    src: np.ndarray, axis: int, n: int, dst: np.ndarray, tmp_a: np.ndarray, tmp_b: np.ndarray
) -> list[Step]:
    """Steps that set dst[i] = sum(src[i : i+n]) along `axis` (src is dst padded by n-1).

    Sums are built by doubling (W2 = W1 + shifted W1, W4 = W2 + shifted W2, ...) and
    combined by the binary digits of n: about log2(n) + popcount(n) passes instead of
    n-1, with a pairwise rounding error of ~log2(n) ulp. Direct sums, never differences,
    so a NaN or inf only reaches the windows that contain it. tmp_a/tmp_b are scratch of
    src's shape. Returned as prepared calls so a tile loop pays no indexing per tile.
    """
    nd = src.ndim
    length = dst.shape[axis]
    steps: list[Step] = []

    def part(arr: np.ndarray, start: int) -> np.ndarray:
        return arr[_along(nd, axis, start, start + length)]

    def add(first: np.ndarray, second: np.ndarray, target: np.ndarray) -> None:
        steps.append(partial(np.add, first, second, out=target))

    if n == 1:
        steps.append(partial(np.copyto, dst, part(src, 0)))
        return steps
    top = 1 << (n.bit_length() - 1)
    cur, cur_len = src, src.shape[axis]  # cur is W_m: sums of m neighbours
    buffers, which = (tmp_a, tmp_b), 0
    pending: np.ndarray | None = None  # a first term not yet added into dst
    started = False  # dst holds a partial sum
    offset, m = 0, 1
    while True:
        if n & m:
            term = part(cur, offset)
            offset += m
            if started:
                add(dst, term, dst)
            elif pending is not None:
                add(pending, term, dst)
                pending, started = None, True
            elif cur is src or n & (2 * m):
                pending = term  # safe: src is never overwritten, or it is used next round
            else:
                steps.append(partial(np.copyto, dst, term))
                started = True
        if 2 * m == top:
            break
        new_len = cur_len - m  # W_2m = W_m + W_m shifted by m
        nxt = buffers[which][_along(nd, axis, 0, new_len)]
        which ^= 1
        add(cur[_along(nd, axis, 0, new_len)], cur[_along(nd, axis, m, cur_len)], nxt)
        cur, cur_len = nxt, new_len
        m *= 2
    # The top digit: W_top at offset is W_m at offset plus W_m at offset + m; fold it
    # straight into dst instead of materialising W_top.
    first, second = part(cur, offset), part(cur, offset + m)
    if started:
        add(dst, first, dst)
    elif pending is not None:
        add(pending, first, dst)
    else:
        add(first, second, dst)
        return steps
    add(dst, second, dst)
    return steps


def _tile_shape(shape: tuple[int, ...], window_axes: tuple[int, ...], budget: int) -> list[int]:
    """The extent of one tile: whole windows, and as much of the other axes as fits.

    Free axes are cut from the first (outermost) on: a block of samples when a sample
    fits in `budget` elements, otherwise one sample and a slab of the next free axis, and
    so on. Window axes are never cut, so a tile's windows are complete.
    """
    tile = list(shape)
    for axis in range(len(shape)):
        if axis in window_axes:
            continue
        rest = math.prod(tile) // tile[axis]
        if rest * tile[axis] <= budget:
            break
        if rest <= budget:
            tile[axis] = max(1, budget // rest)
            break
        tile[axis] = 1
    return tile


def _tiles(shape: tuple[int, ...], tile: list[int], window_axes: tuple[int, ...]) -> Iterator[tuple[slice, ...]]:
    """Index tuples covering `shape` with tiles of extent `tile` (window axes whole)."""
    starts = [range(1) if axis in window_axes else range(0, extent, tile[axis]) for axis, extent in enumerate(shape)]
    for corner in itertools.product(*starts):
        yield tuple(
            slice(None) if axis in window_axes else slice(c, min(c + tile[axis], shape[axis]))
            for axis, c in enumerate(corner)
        )


@dataclass
class _TilePlan:
    """Scratch buffers and prepared window-sum steps for one tile shape.

    `squares_inner` is the interior of a zero-bordered buffer (the borders are never
    written, so they stay zero from tile to tile); after `steps`, `base` holds
    k + s*sum(x^2). `x_copy` (made on first need) holds a tile of x converted to the
    compute dtype when x is float16/integer or a strided view.
    """

    squares_inner: np.ndarray
    steps: list[Step]
    base: np.ndarray
    spare: np.ndarray
    x_copy: np.ndarray | None = None


def _plan_tile(shape: tuple[int, ...], spec: LRNSpec, dtype: np.dtype) -> _TilePlan:
    """Allocate the scratch for a tile of `shape` and prepare its steps."""
    axes = spec.window_axes
    # A window wider than the array reaches only zeros past its edges: clamp it there, so
    # that a huge --size costs nothing (the scale keeps the size the user gave).
    edge = max(max(shape[a] for a in axes) - 1, 0)
    lo, hi = min(spec.lo, edge), min(spec.hi, edge)
    size = lo + hi + 1
    reach = lo + hi
    padded = list(shape)
    interior = [slice(None)] * len(shape)
    for axis in axes:
        padded[axis] += reach
        interior[axis] = slice(lo, lo + shape[axis])
    squares = np.zeros(padded, dtype=dtype)
    tmp_a = np.empty(padded, dtype=dtype)
    tmp_b = np.empty(padded, dtype=dtype)
    base = np.empty(shape, dtype=dtype)
    if spec.region == "within":  # sum along the first box axis, then the second
        half = list(shape)
        half[axes[1]] += reach
        mid = np.empty(half, dtype=dtype)
        steps = _window_sum_steps(squares, axes[0], size, mid, tmp_a, tmp_b)
        mid_a = tmp_a[tuple(slice(0, e) for e in half)]
        mid_b = tmp_b[tuple(slice(0, e) for e in half)]
        steps += _window_sum_steps(mid, axes[1], size, base, mid_a, mid_b)
    else:
        steps = _window_sum_steps(squares, axes[0], size, base, tmp_a, tmp_b)
    steps.append(partial(np.multiply, base, spec.scale, out=base))
    steps.append(partial(np.add, base, spec.bias, out=base))
    return _TilePlan(
        squares_inner=squares[tuple(interior)],
        steps=steps,
        base=base,
        spare=np.empty(shape, dtype=dtype),
    )


def _needs_base_check(spec: LRNSpec) -> bool:
    """Whether k + s*sum(x^2) can be <= 0: only with bias <= 0 or a negative scale."""
    return spec.bias <= 0 or spec.scale < 0


def _divide_by_power(x: np.ndarray, base: np.ndarray, spare: np.ndarray, beta: float, out: np.ndarray) -> None:
    """out = x * base**(-beta), overwriting base (and spare) on the way.

    The common betas avoid np.power (about 20x slower than sqrt in float32):
    0.75 -> x / (sqrt(b) * sqrt(sqrt(b))), 0.5 -> x / sqrt(b), 1 -> x / b.
    """
    dtype = base.dtype
    if beta == 0.75:
        np.sqrt(base, out=base)
        np.sqrt(base, out=spare)
        np.multiply(base, spare, out=base)
        np.divide(x, base, out=out, dtype=dtype)
    elif beta == 0.5:
        np.sqrt(base, out=base)
        np.divide(x, base, out=out, dtype=dtype)
    elif beta == 1.0:
        np.divide(x, base, out=out, dtype=dtype)
    else:
        np.power(base, -beta, out=base)
        np.multiply(x, base, out=out, dtype=dtype)


def lrn_apply(
    x: np.ndarray,
    spec: LRNSpec,
    *,
    out: np.ndarray | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> np.ndarray:
    """Evaluate the LRN `spec` on `x` and return the result (`out` if given).

    float32/float64 keep their dtype; float16 is computed in float32 and cast back (see
    `count_overflow` for values that became inf); bool/integer input gives float32.
    `out` may be any float array of x's shape, including an `open_memmap` (or `x` itself:
    each tile is read before it is written). The work goes a tile of about `block_bytes`
    at a time (a block of samples; a slab of one sample if a sample is larger), so peak
    extra memory is a few tiles whatever the array size, and x may be a read-only memmap.
    A tile always holds whole windows, so it is never smaller than the channel axis (for
    "within", one H x W plane).
    Raises DataError if the divisor base k + s*sum(x^2) is <= 0 anywhere (possible only
    with bias <= 0 or negative alpha), with the count.
    """
    x = np.asarray(x)
    if x.ndim != spec.ndim:
        raise ValueError(f"spec was resolved for {spec.ndim}-D input but x is {x.ndim}-D")
    result_dtype = output_dtype(x.dtype)
    if out is None:
        out = np.empty(x.shape, dtype=result_dtype)
    elif out.shape != x.shape or out.dtype.kind != "f":
        raise ValueError(f"out must be a float array of shape {x.shape}; got {out.dtype} {out.shape}")
    if x.size == 0:
        return out
    with np.errstate(all="ignore"):
        if spec.beta == 0:  # base ** 0 == 1 for every base, NaN included
            np.copyto(out, x, casting="unsafe")
            return out
        _run_tiles(x, spec, out, block_bytes)
    return out


# The dtype a tile falls back to when its window sums overflow (x^2 of a float32 1e20, of
# a float64 1e200) or the parameters sit in the subnormals: x87 extended precision, whose
# exponent reaches 1e+-4932, so k + s*sum(x^2) of any float64 input is a normal number.
# Where long double is plain float64 (some platforms), float64 is the best there is.
_WIDE = np.dtype(np.longdouble) if np.finfo(np.longdouble).maxexp > 1024 else np.dtype(np.float64)


def _tiny_parameters(spec: LRNSpec, dtype: np.dtype) -> bool:
    """Whether k or s is so small in `dtype` that k + s*sum(x^2) loses its precision there:
    a subnormal s (--alpha 1e-45 in float32 is 0 or a single bit), or a k that squares
    flushed to zero can outweigh (k = 0 makes the base s*sum(x^2) alone)."""
    floor = float(np.finfo(dtype).tiny) * 2.0**24
    return 0 <= spec.bias < floor * max(1.0, abs(spec.scale)) or 0 < abs(spec.scale) < floor


def _run_tiles(x: np.ndarray, spec: LRNSpec, out: np.ndarray, block_bytes: int) -> None:
    """The tiled kernel behind `lrn_apply` (errors ignored by the caller's np.errstate).

    Each tile is computed in the input's compute dtype. Where the divisor base overflowed
    (or is NaN), and where the output overflowed when k < 1 lets y exceed x, the positions
    are computed again in a wider dtype: the result then stays within float rounding of a
    float64 (or exact) evaluation wherever it is representable in the output dtype, and
    each position's result depends on its window only, never on how the array is tiled.
    Parameters too small for the compute dtype widen every tile."""
    dtype = _compute_dtype(x.dtype)
    if _tiny_parameters(spec, dtype):
        dtype = np.dtype(np.float64) if dtype == np.float32 else _WIDE
    budget = max(1, int(block_bytes) // dtype.itemsize)
    tile = _tile_shape(x.shape, spec.window_axes, budget)
    plans: dict[tuple[tuple[int, ...], np.dtype], _TilePlan] = {}  # the full tile, ragged edges, wide ones
    check = _needs_base_check(spec)
    may_grow = spec.bias < 1  # base^-beta > 1 is possible: y may overflow where x did not
    bad = 0
    for index in _tiles(x.shape, tile, spec.window_axes):
        xt, out_t = x[index], out[index]
        count, redo = _run_tile(xt, spec, out_t, dtype, plans, check, count_only=bad > 0)
        bad += count
        if bad or dtype == _WIDE:
            continue
        if may_grow and not np.isfinite(out_t.max()):
            grown = ~np.isfinite(out_t)
            redo = grown if redo is None else redo | grown
        if redo is not None:
            _run_tile(xt, spec, out_t, _WIDE, plans, False, count_only=False, where=redo)
    if bad:
        fixes = []
        if spec.bias <= 0:
            fixes.append("use --bias > 0")
        if spec.scale < 0:
            fixes.append("use --alpha >= 0")
        raise DataError(
            f"the LRN divisor base k + s*sum(x^2) is <= 0 at {bad} of {x.size} positions "
            f"(k={_fmt(spec.bias)}, s={_fmt(spec.scale)}), so it cannot be raised to "
            f"-{_fmt(spec.beta)}; {' and '.join(fixes)}"
        )


def _run_tile(
    xt: np.ndarray,
    spec: LRNSpec,
    out_t: np.ndarray,
    dtype: np.dtype,
    plans: dict[tuple[tuple[int, ...], np.dtype], _TilePlan],
    check: bool,
    count_only: bool,
    where: np.ndarray | None = None,
) -> tuple[int, np.ndarray | None]:
    """Normalise one tile in `dtype` into `out_t` (only `where`, if given). Returns the
    count of bases <= 0 (with `count_only`, or any such base, nothing is written), and
    where the base is not finite (overflowed, or NaN) in a dtype narrower than the widest,
    or None when it is finite everywhere."""
    plan = plans.get((xt.shape, dtype))
    if plan is None:
        plan = plans[xt.shape, dtype] = _plan_tile(xt.shape, spec, dtype)
    if xt.dtype != dtype or not xt.flags.c_contiguous:
        # float16/int input or a strided view: convert/gather once, not on both reads
        if plan.x_copy is None:
            plan.x_copy = np.empty(xt.shape, dtype=dtype)
        np.copyto(plan.x_copy, xt, casting="unsafe")
        xt = plan.x_copy
    np.multiply(xt, xt, out=plan.squares_inner)
    for step in plan.steps:
        step()
    bad = int(np.count_nonzero(plan.base <= 0)) if check else 0
    if bad or count_only:
        return bad, None  # keep counting for the message; write nothing more
    unfinished = None
    if dtype != _WIDE and not np.isfinite(plan.base.max()):  # one cheap pass in the common case
        unfinished = ~np.isfinite(plan.base)
    if out_t.dtype == dtype and where is None:
        _divide_by_power(xt, plan.base, plan.spare, spec.beta, out_t)
    else:  # compute in place, then round once into the output
        _divide_by_power(xt, plan.base, plan.spare, spec.beta, plan.base)
        np.copyto(out_t, plan.base, casting="unsafe", where=True if where is None else where)
    return 0, unfinished


def lrn(
    x: np.ndarray,
    *,
    convention: str = "torch",
    size: int | None = None,
    depth_radius: int | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bias: float | None = None,
    region: str = "across",
    layout: str | None = None,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Local Response Normalization of `x` as the named framework computes it.

    A convenience over `resolve_spec` + `lrn_apply`; see those for the parameters, the
    defaults of each convention, dtypes and errors.
    """
    arr = np.asarray(x)
    spec = resolve_spec(
        ndim=arr.ndim,
        convention=convention,
        size=size,
        depth_radius=depth_radius,
        alpha=alpha,
        beta=beta,
        bias=bias,
        region=region,
        layout=layout,
        channel_axis=channel_axis,
    )
    return lrn_apply(arr, spec)
