"""The kernels behind `normcli.tensor.norm`: statistics and normalization of a 5-D view.

Every kind is seen through one view of the array, (S, P, G, Q, T) (see `NormSpec.view`):
statistics are indexed by (S, G) and reduce over P, Q and T. The work goes a cache-sized
tile at a time (whole rows of S, or for batch norm a slab of P), on a small pool of
threads (NumPy releases the GIL inside its loops); results are combined in tile order,
so they do not depend on which thread finished first.

Numerics. Every statistic is taken on shifted data, never as E[x^2] - E[x]^2 of raw values,
except where |mean| <= std: float32 rows (`norm_rows`) and batch norm's float32 channels
(`_folded_moments`) then take var = E[x^2] - mean^2 from float32 BLAS dots, which loses at
most a factor 2 of their ~1e-7 relative error.
- float32 (and float16/integer input, computed in float32): the tile is centred on its mean
  rounded to float32 (`head`, so x - head is exact or nearly); along contiguous rows the
  sums are NumPy's pairwise float32 sums (a few ulp) and the mean is taken twice, of x and
  of x - head, so its rounding does not stay; elsewhere they accumulate in float64. The rest
  of the mean (`tail`) is folded into the shift, y = (x - head) * a + (beta - tail * a),
  unless it moves the output by under 1/4 ulp. A float32 channel at 1e4 with std 1 keeps
  1e-7 relative accuracy, where a one-pass float32 E[x^2] - E[x]^2 keeps none. Moments that
  are a result (bn-stats) are computed exactly in float64 from float32 data instead.
- float64: each statistic is shifted by one of its values and summed twice (mean, then
  squared deviations), and moments are merged with Chan's formula in that shift, so
  statistics of data at 1e9 with std 1 merge exactly whatever the split.

Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from normcli.tensor import norm_rows
from normcli.tensor.norm_base import TAIL_NEGLIGIBLE, chunks, inverse_std, row_buffers
from normcli.tensor.norm_base import scratch as _scratch

__all__ = [
    "ROW_TILE_ELEMS",
    "TILE_ELEMS",
    "Moments",
    "Params",
    "apply_params",
    "make_params",
    "normalize_block",
    "tile_moments",
]

# Elements of one tile (a unit of work for a thread: a slab of batch norm's P, or whole rows
# of S for the other kinds) and of one chunk, the most a tile is worked on at once. Chunks
# bound the scratch memory when one row is huge (layer norm of a 1 GB sample); smaller
# chunks (64K elements, to stay in L2) were measured: they cost 10-60% more CPU time in the
# extra NumPy calls than they saved in cache misses, so ordinary tiles are not cut.
TILE_ELEMS = 1 << 18
CHUNK_ELEMS = 1 << 20
# Tiles of the float32 row path (`norm_rows`), whose per-tile Python work is larger: 4 MB
# tiles were measured 5-30% faster than 1 MB ones on the benchmark shapes (2 threads).
ROW_TILE_ELEMS = 1 << 20

T = TypeVar("T")
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _threads() -> int:
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _map(fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """fn over items, on the calling thread and the kernel's thread pool when there is more
    than one item; results (and the first exception, in the order of items) in that order.

    Each thread takes the next item until none is left, so one hand-off per helper thread
    serves a whole call (a future per item cost 5-15% of layer norm's time on 11 tiles), and
    a thread that the system holds up leaves its share to the others."""
    global _POOL
    threads = min(_threads(), len(items))
    if threads < 2:
        return [fn(item) for item in items]
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_threads() - 1, thread_name_prefix="normcli-norm")
    results: list[Any] = [None] * len(items)
    errors: dict[int, BaseException] = {}
    order = iter(range(len(items)))
    lock, stop = threading.Lock(), threading.Event()

    def work() -> None:
        while not stop.is_set():
            with lock:
                i = next(order, None)
            if i is None:
                return
            try:
                results[i] = fn(items[i])
            except BaseException as exc:  # an interrupt too: raised below, by the caller
                errors[i] = exc
                stop.set()

    helpers = [_POOL.submit(work) for _ in range(threads - 1)]
    try:
        work()
    except BaseException:  # an interrupt between items: the helpers stop after theirs
        stop.set()
        raise
    finally:  # a helper not started yet (the pool busy with another call's) is not waited for
        for helper in helpers:
            if not helper.cancel():
                helper.result()
    if errors:
        raise errors[min(errors)]
    return results


# --------------------------------------------------------------------------------------
# Moments
# --------------------------------------------------------------------------------------


@dataclass
class Moments:
    """Count, mean and sum of squared deviations (m2) of each statistic, float64, mergeable
    with Chan's formula. The mean is kept as `shift + dmean`, with `shift` near the data
    (one of its values, or its mean rounded to float32): sums run over x - shift, so their
    rounding scales with the spread of the data, not its magnitude. Uncentred (rms): shift
    and dmean are 0 and m2 is the sum of squares."""

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

    @classmethod
    def concat(cls, parts: Sequence[Moments]) -> Moments:
        """Moments of consecutive rows of S, stacked."""
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("count", "shift", "dmean", "m2")))


# --------------------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------------------


def _tiles(view: tuple[int, int, int, int, int], elems: int | None = None) -> list[tuple[slice, slice]]:
    """(S, P) slices cutting a 5-D view into tiles of about `elems` elements: whole rows
    of S when one fits, else a slab of P within one row."""
    elems = TILE_ELEMS if elems is None else elems
    s_n, p_n = view[0], view[1]
    per_s = math.prod(view[1:])
    per_p = math.prod(view[2:])
    if per_s and per_s <= elems:
        step = max(1, elems // per_s)
        return [(slice(s, min(s + step, s_n)), slice(None)) for s in range(0, s_n, step)]
    step = max(1, elems // max(per_p, 1))
    return [(slice(s, s + 1), slice(p, min(p + step, p_n))) for s in range(s_n) for p in range(0, p_n, step)]


def _reduce(a: np.ndarray) -> np.ndarray:
    """The sum of a 5-D tile over axes 1, 3 and 4, shaped (S, G), accumulated in float64
    (reshaped so that NumPy reduces along contiguous rows or down columns, its fast paths)."""
    s, p, g, q, t = a.shape
    a4 = a.reshape(s, p, g, q * t)
    if p == 1:
        return a4[:, 0].sum(axis=2, dtype=np.float64)
    if q * t == 1:
        return a4[..., 0].sum(axis=1, dtype=np.float64)
    return a4.sum(axis=3, dtype=np.float64).sum(axis=1)


def _chunks(shape: tuple[int, ...], elems: int | None = None) -> list[tuple[slice, ...]]:
    """`chunks` of a 5-D tile, of about CHUNK_ELEMS elements unless told."""
    return chunks(shape, CHUNK_ELEMS if elems is None else elems)


def _take(a: np.ndarray | None, index: tuple[slice, ...]) -> np.ndarray | None:
    """The part of a broadcastable parameter array that goes with `index` of the tile."""
    if a is None:
        return None
    return a[tuple(sl if n > 1 else slice(None) for sl, n in zip(index, a.shape, strict=True))]


def _stat(values: np.ndarray) -> np.ndarray:
    """(S, G) statistics shaped to broadcast against a 5-D tile."""
    return values.reshape(values.shape[0], 1, values.shape[1], 1, 1)


def _tile_stats(x: np.ndarray, centered: bool, dtype: np.dtype) -> tuple[Moments, np.ndarray]:
    """Moments of a 5-D tile and the tile centred on `shift` (x - shift, in the compute
    `dtype`, in a scratch buffer; for rms the tile itself in `dtype`). With `dtype` float64
    for float32 input, the centred values and their squares are exact too: the moments then
    agree with float64 arithmetic on the data to ~1e-15 (bn-stats, batch norm's first pass);
    with float32 they are good to ~1e-7 relative, the output's own precision."""
    s, p, g, q, t = x.shape
    n = float(p * q * t)
    d = _scratch(0, x.shape, dtype)
    sq = _scratch(1, x.shape, dtype)
    count = np.full((s, g), n)
    if not centered:
        np.copyto(d, x, casting="unsafe")
        m2 = _reduce(np.square(d, out=sq))
        zeros = np.zeros((s, g))
        return Moments(count, zeros, zeros, m2), d
    if x.dtype == np.float64:  # shift by a value of each statistic, then two passes
        shift = np.array(x[:, :1, :, :1, :1], dtype=np.float64).reshape(s, g)
        _centre(x, shift, d)
        dmean = _reduce(d) / n
        _centre(d, dmean, sq)
        m2 = _reduce(np.square(sq, out=sq))
        return Moments(count, shift, dmean, m2), d
    if dtype == np.float32 and p == 1 and x.dtype == np.float32:
        # rows are contiguous, so NumPy sums them pairwise, in float32 at twice the speed of a
        # float64 accumulation and with an error of a few ulp; the mean is taken twice (of x,
        # then of x - head) so that its float32 rounding does not stay in the result
        rows = x.reshape(s, g, q * t)
        head = (rows.sum(axis=2) / np.float32(n)).astype(np.float32)
        _centre(x, head, d)
        tail = d.reshape(s, g, q * t).sum(axis=2, dtype=np.float32).astype(np.float64) / n
        s2 = np.square(d, out=sq).reshape(s, g, q * t).sum(axis=2, dtype=np.float32).astype(np.float64)
    else:
        mean = _reduce(x) / n
        head = mean.astype(np.float32)
        _centre(x, head, d)
        # exact (float64): the rest of the mean from the centred values themselves, as mean -
        # head would carry the float64 rounding of the mean into m2 (2e-9 relative for a float32
        # channel at 1e7 whose values are an ulp apart); float32: good to its own precision
        tail = _reduce(d) / n if dtype == np.float64 else mean - head
        s2 = _reduce(np.square(d, out=sq))
    m2 = np.maximum(s2 - n * tail * tail, 0.0)  # sum (d - tail)^2, as sum d = n * tail
    return Moments(count, head.astype(np.float64), tail, m2), d


def _centre(x: np.ndarray, shift: np.ndarray, out: np.ndarray) -> None:
    """out = x - shift, in out's dtype, for a 5-D tile and (S, G) shifts. Input of another
    dtype is cast into `out` first and shifted there: one ufunc that casts and broadcasts at
    once went through NumPy's buffers and was 2-3.5x slower (float32 rows of 729-4096 values
    into float64). The same values as that ufunc: x and shift take the same casts to out's
    dtype (exact for float16/float32 into float64), then are subtracted in it."""
    with row_buffers(x.shape[4]):
        if x.dtype != out.dtype:
            np.copyto(out, x, casting="unsafe")
            x = out
        np.subtract(x, _stat(shift).astype(out.dtype, copy=False), out=out)


def _chunked_stats(x: np.ndarray, centered: bool, dtype: np.dtype) -> Moments:
    """Moments of a 5-D tile, chunk by chunk, merged (Chan) in chunk order."""
    chunks = _chunks(x.shape)
    if len(chunks) == 1:
        return _tile_stats(x, centered, dtype)[0]
    acc = Moments(*(np.zeros((x.shape[0], x.shape[2])) for _ in range(4)))
    for index in chunks:
        part = _tile_stats(x[index], centered, dtype)[0]
        key = (index[0], index[2])
        acc[key] = acc[key].merge(part)
    return acc


def tile_moments(
    view: tuple[int, int, int, int, int], block: np.ndarray, centered: bool, exact: bool = True
) -> Moments:
    """Moments of each statistic of a block (shaped (S, G)), tile by tile on the pool:
    `exact`, to float64 rounding whatever the input dtype (statistics that are the result,
    as bn-stats'); otherwise float32 input is centred in float32, good to ~1e-7 relative
    (statistics that only scale a float32 output, as batch norm's first pass)."""
    v = np.ascontiguousarray(block).reshape(view)
    tiles = _tiles(view)
    if not exact and centered and block.dtype == np.float32 and view[0] == 1 and view[3] == 1 and view[4] > 1:
        folded = _folded_moments(view, v, tiles)
        if folded is not None:
            return folded
    dtype = np.dtype(np.float64) if exact or block.dtype == np.float64 else np.dtype(np.float32)
    parts = _map(lambda tile: _chunked_stats(v[tile], centered, dtype), tiles)
    if all(ps == slice(None) for _, ps in tiles):
        return Moments.concat(parts) if parts else _empty(view)
    acc = _empty(view)
    for (ss, _), part in zip(tiles, parts, strict=True):  # in order: the result is the same on any thread
        acc[ss] = acc[ss].merge(part)
    return acc


def _folded_moments(
    view: tuple[int, int, int, int, int], v: np.ndarray, tiles: list[tuple[slice, slice]]
) -> Moments | None:
    """Batch norm's float32 moments (view (1, P, G, 1, T)) from sum x and sum x^2 of each
    contiguous (p, g) row of T values (`norm_rows.channel_sums`: two read-only BLAS passes,
    no centred copy), added in tile order in float64: var = E[x^2] - mean^2, as the row
    path takes it, where every channel has mean^2 <= var (then good to ~2e-7 relative);
    None elsewhere (|mean| > std, or x^2 overflowed), for the centred computation."""
    parts = _map(lambda tile: norm_rows.channel_sums(v[tile]), tiles)
    s2, s1 = np.zeros(view[2]), np.zeros(view[2])
    for part_s2, part_s1 in parts:  # in tile order: the same result on any thread
        s2 += part_s2
        s1 += part_s1
    n = float(view[1] * view[4])
    mean = s1 / n
    squared = mean * mean
    var = s2 / n - squared
    if not (bool((squared <= var).all()) and math.isfinite(float(s2.sum()))):
        return None
    g = view[2]
    return Moments(np.full((1, g), n), np.zeros((1, g)), mean.reshape(1, g), (var * n).reshape(1, g))


def _empty(view: tuple[int, ...]) -> Moments:
    return Moments(*(np.zeros((view[0], view[2])) for _ in range(4)))


# --------------------------------------------------------------------------------------
# Scale and shift
# --------------------------------------------------------------------------------------


@dataclass
class Params:
    """y = ((x - head) * scale + shift) [* gamma_t + beta_t] over a 5-D view.

    head is the mean in the compute dtype (0 for rms; None: x * scale + shift, the mean
    folded into the shift, when that loses nothing that matters); scale and shift fold in 1/sqrt(var +
    eps), the rest of the mean and, for kinds with one gamma/beta per channel, the affine
    parameters (shaped to (S|1, 1, G, Q|1, 1)); layer/rms keep theirs apart as gamma_t and
    beta_t over T, so that nothing the size of the array is ever built."""

    head: np.ndarray | None
    scale: np.ndarray
    shift: np.ndarray | None
    gamma_t: np.ndarray | None = None
    beta_t: np.ndarray | None = None


def make_params(
    view: tuple[int, int, int, int, int],
    per_channel: bool,
    centered: bool,
    head: np.ndarray,
    tail: np.ndarray,
    inv: np.ndarray,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    dtype: np.dtype,
) -> Params:
    """Params from per-statistic (S, G) head, tail (mean = head + tail) and 1/std, all float64."""
    inv5, tail5 = _stat(inv), _stat(tail)
    if dtype == np.float32 and centered:
        with np.errstate(invalid="ignore", over="ignore"):
            negligible = bool(np.nanmax(np.abs(tail) * inv, initial=0.0) <= TAIL_NEGLIGIBLE)
        if negligible:  # the rest of the mean moves the output by less than its own rounding
            tail5 = np.zeros_like(tail5)
    if per_channel:
        pview = (1, 1, view[2], view[3], 1)
        scale = inv5 if gamma is None else inv5 * gamma.reshape(pview)
        b = 0.0 if beta is None else beta.reshape(pview)
        shift = b - tail5 * scale if centered else None
        if shift is not None and beta is None and not np.any(tail5):
            shift = None
        return Params(_stat(head).astype(dtype), scale.astype(dtype), None if shift is None else shift.astype(dtype))
    tview = (1, 1, 1, 1, view[4])
    shift = -tail5 * inv5 if centered and np.any(tail5) else None
    return Params(
        _stat(head).astype(dtype) if centered else None,
        inv5.astype(dtype),
        None if shift is None else shift.astype(dtype),
        None if gamma is None else gamma.reshape(tview).astype(dtype, copy=False),
        None if beta is None else beta.reshape(tview).astype(dtype, copy=False),
    )


def _apply(x: np.ndarray, params: Params, out: np.ndarray, dtype: np.dtype) -> None:
    """out = ((x - head) * scale + shift) [* gamma_t + beta_t] over a 5-D tile, chunk by
    chunk; `params` rows (axis 0) match the tile's."""
    with row_buffers(x.shape[4]):  # scale, shift, gamma_t and beta_t broadcast along rows of T
        for index in _chunks(x.shape):
            xc, oc = x[index], out[index]
            target = oc if oc.dtype == dtype else _scratch(0, xc.shape, dtype)
            head, scale = _take(params.head, index), _take(params.scale, index)
            assert scale is not None
            if head is None:
                np.multiply(xc, scale, out=target, dtype=dtype, casting="unsafe")
            else:
                np.subtract(xc, head, out=target, dtype=dtype, casting="unsafe")
                np.multiply(target, scale, out=target)
            for op, value in (
                (np.add, _take(params.shift, index)),
                (np.multiply, _take(params.gamma_t, index)),
                (np.add, _take(params.beta_t, index)),
            ):
                if value is not None:
                    op(target, value, out=target)
            if target is not oc:
                np.copyto(oc, target, casting="unsafe")


def apply_params(view: tuple[int, int, int, int, int], block: np.ndarray, params: Params, out: np.ndarray) -> None:
    """out = normalized block with fixed params, one set for every row of S (batch norm's
    second pass, or inference)."""
    dtype = params.scale.dtype
    v = np.ascontiguousarray(block).reshape(view)
    o = out.reshape(view)
    _map(lambda tile: _apply(v[tile], params, o[tile], dtype), _tiles(view))


def normalize_block(
    view: tuple[int, int, int, int, int],
    block: np.ndarray,
    *,
    per_channel: bool,
    centered: bool,
    eps: float,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    out: np.ndarray,
    what: str,
) -> None:
    """Normalize a block with its own statistics, a tile of whole rows of S at a time (its
    statistics chunk by chunk, then its output chunk by chunk, while the tile is in cache).
    For kinds whose statistics are complete within a row of S: instance, group, layer, rms."""
    dtype = np.dtype(np.float64) if block.dtype == np.float64 else np.dtype(np.float32)
    v = np.ascontiguousarray(block).reshape(view)
    o = out.reshape(view)
    tiles = _tiles(view, max(TILE_ELEMS, math.prod(view[1:])))  # whole rows: their statistics are complete
    if norm_rows.fits(view, block, out):  # float32, one contiguous row per statistic: the fast path
        tiles = _tiles(view, max(ROW_TILE_ELEMS, math.prod(view[1:])))
        # per channel: float64 (G, Q), folded into the scale; layer/rms: float32 (T,), cast once here
        pshape, pdtype = ((view[2], view[3]), np.float64) if per_channel else ((view[4],), np.float32)
        g_rows = None if gamma is None else np.asarray(gamma).reshape(pshape).astype(pdtype, copy=False)
        b_rows = None if beta is None else np.asarray(beta).reshape(pshape).astype(pdtype, copy=False)
        _map(
            lambda tile: norm_rows.normalize_rows(
                v[tile],
                o[tile],
                per_channel=per_channel,
                centered=centered,
                eps=eps,
                gamma=g_rows,
                beta=b_rows,
                what=what,
                chunk=CHUNK_ELEMS,
            ),
            tiles,
        )
        return
    g64 = b64 = gamma_t = beta_t = None
    if per_channel:
        g64 = None if gamma is None else np.asarray(gamma, dtype=np.float64)
        b64 = None if beta is None else np.asarray(beta, dtype=np.float64)
    else:  # one value per position of T: cast once, not per tile
        tview = (1, 1, 1, 1, view[4])
        gamma_t = None if gamma is None else np.asarray(gamma).reshape(tview).astype(dtype, copy=False)
        beta_t = None if beta is None else np.asarray(beta).reshape(tview).astype(dtype, copy=False)

    def work(tile: tuple[slice, slice]) -> None:
        x = v[tile]
        moments = _chunked_stats(x, centered, dtype)
        inv = inverse_std(moments.var, eps, what, not centered)
        params = make_params(view, per_channel, centered, moments.shift, moments.dmean, inv, g64, b64, dtype)
        params.gamma_t, params.beta_t = gamma_t, beta_t
        _apply(x, params, o[tile], dtype)

    _map(work, tiles)
