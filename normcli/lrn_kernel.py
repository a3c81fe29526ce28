"""Local Response Normalization (LRN): the kernel that evaluates a resolved `LRNSpec`.

    y_c = x_c * (k + s * sum_{j = c-lo .. c+hi} x_j^2) ** (-beta)

where channels outside the array count as zero and the divisor does not shrink at the
edges. The conventions of TF, PyTorch, ONNX and Caffe (defaults, window, scale, channel
axis) are data in `normcli.lrn_spec`, whose `resolve_spec` turns a convention name plus
the user's options into one explicit `LRNSpec`; `lrn_apply` is the single kernel.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from normcli.errors import DataError
from normcli.lrn_spec import CONVENTIONS, LAYOUTS, REGIONS, LRNSpec, explain, resolve_spec
from normcli.tensor import layout as _layout
from normcli.tensor.layout import count_overflow, fmt

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

# The size of one tile of the input, in the compute dtype. The kernel keeps about six
# tile-sized scratch buffers, which should stay in the cache: tiles of one or two whole
# samples (contiguous in memory) run fastest on AlexNet shapes (benchmarks/bench_lrn.py);
# tiles cut inside a sample make strided views and pay per-call overhead, and larger
# tiles spill the last-level cache.
DEFAULT_BLOCK_BYTES = 2 * 1024 * 1024

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

    The common betas avoid np.power (far slower than sqrt in float32):
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
            fixes.append("use {bias} > 0")
        if spec.scale < 0:
            fixes.append("use {alpha} >= 0")
        raise DataError.about(
            "the LRN divisor base k + s*sum(x^2) is <= 0 at {bad} of {size} positions "
            "(k={k}, s={s}), so it cannot be raised to -{beta_value}; " + " and ".join(fixes),
            bad=bad,
            size=x.size,
            k=fmt(spec.bias),
            s=fmt(spec.scale),
            beta_value=fmt(spec.beta),
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
