"""The float32 fast path of `normalize_block`: statistics that are contiguous rows of memory.

Instance and group norm on channels-first data, and layer and RMS norm, reduce each
statistic over one contiguous run of memory (a row). NumPy cannot fuse operations, so what
costs is the number of passes over memory and where the data is when they run. Here:

- rows are worked on a block at a time (whole rows, up to `chunk` values: norm_kernel's
  CHUNK_ELEMS), statistics and output together, while the block is in cache. Smaller
  blocks (64K values, to stay in L2) were measured slower: the Python work per block
  outweighs the cache misses they save;
- the sums are float32 BLAS dot products (one pass each, no temporary: sum x = x . 1,
  sum d^2 = d . d), over equal pieces of at most `BLAS_PIECE` (8192) values, all in one
  NumPy call, added up in float64. A float32 dot of 2^15 values is good to ~1e-7 relative
  (measured: 1e-7 at 2^15, 3e-7 at 2^18, 2e-6 at 2e6 values), so the pieces keep that
  whatever the length of a row. They are kept under 10,000 values because OpenBLAS runs a
  longer dot (and any matrix-vector product of 9216 values or more) on its own threads:
  called from the kernel's thread pool, that made whole calls 1.3-8x slower, erratically
  (measured on the 2-core machine: group norm of (32, 96, 55, 55) took 12 ms with OpenBLAS
  held to one thread and 16-100 ms without);
- where every row of a block has mean^2 <= var (measured from the same two dots), the
  variance is E[x^2] - mean^2 (at most twice the dots' ~1e-7 relative error) and the mean
  is folded into the shift, y = x * scale + (beta - mean * scale) (at most an ulp), so no
  centred copy is made: group and instance norm take 4 passes over memory (2 reads, a write,
  an update), layer norm with affine 6;
- elsewhere, numerics as in `norm_kernel`: the row is centred on its mean rounded to
  float32 (head), its variance taken from d = x - head (written to the output, then scaled
  in place), and the rest of the mean (tail) folded into the shift unless it moves the
  output by under 1/4 ulp, so a float32 row at 1e4 with std 1 keeps its variance.

Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import math

import numpy as np

from normcli.tensor.norm_base import TAIL_NEGLIGIBLE, chunks, inverse_std, row_buffers, scratch

# Values summed by one float32 BLAS dot product (see the module docstring).
BLAS_PIECE = 1 << 13

_ONES = np.ones(BLAS_PIECE, dtype=np.float32)


def _ones(n: int) -> np.ndarray:
    """n float32 ones (a view of a shared array, grown when a longer one is asked for)."""
    global _ONES
    if _ONES.size < n:
        _ONES = np.ones(n, dtype=np.float32)
    return _ONES[:n]


def _rowdot(a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """sum over axis 1 of a * b (b None: of a), float64, for a 2-D float32 `a` with
    contiguous rows: float32 BLAS dots of equal pieces of at most BLAS_PIECE values (all
    of them in one or two NumPy calls), added in float64."""
    k, n = a.shape
    if n == 0:
        return np.zeros(k)
    piece = -(-n // -(-n // max(1, BLAS_PIECE)))  # n cut into ceil(n / BLAS_PIECE) equal pieces
    whole = n - n % piece
    total = _piece_dots(a[:, :whole], None if b is None else b[:, :whole], piece)
    if whole < n:
        total += _piece_dots(a[:, whole:], None if b is None else b[:, whole:], n - whole)
    return total


def _piece_dots(a: np.ndarray, b: np.ndarray | None, piece: int) -> np.ndarray:
    """`_rowdot` of (k, m * piece) arrays, one float32 dot per piece, added in float64."""
    k, n = a.shape
    m = n // piece
    left = a.reshape(k, m, 1, piece)
    right = _ones(piece)[:, None] if b is None else b.reshape(k, m, piece, 1)
    return np.matmul(left, right).reshape(k, m).sum(axis=1, dtype=np.float64)


def channel_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum x^2, sum x) per channel, float64 shaped (G,), of a float32 batch-norm tile
    (1, P, G, 1, T) whose (p, g) rows of T values are contiguous: a float32 BLAS dot per
    row (pieces as `_rowdot`), the rows added in float64."""
    _, p, g, _, t = x.shape
    flat = x.reshape(p * g, t)
    s2 = _rowdot(flat, flat).reshape(p, g).sum(axis=0)
    s1 = _rowdot(flat, None).reshape(p, g).sum(axis=0)
    return s2, s1


def fits(view: tuple[int, int, int, int, int], block: np.ndarray, out: np.ndarray) -> bool:
    """Whether `normalize_block` can take this path: float32 in and out, rows contiguous."""
    return block.dtype == np.float32 and out.dtype == np.float32 and view[1] == 1


def normalize_rows(
    x: np.ndarray,
    o: np.ndarray,
    *,
    per_channel: bool,
    centered: bool,
    eps: float,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    what: str,
    chunk: int,
) -> None:
    """Normalize a 5-D tile (S, 1, G, Q, T) of float32 into `o` with its own statistics,
    one per (S, G) row of Q*T values. gamma/beta: float64 per channel shaped (G, Q), or
    float32 per position of T shaped (T,) (layer/rms, where G = Q = 1)."""
    s, _, g, q, t = x.shape
    length = q * t
    rows, orows = x.reshape(s * g, q, t), o.reshape(s * g, q, t)
    chunk = max(1, chunk)
    gamma_t, beta_t = (None, None) if per_channel else (gamma, beta)
    # per channel: gamma and beta of every row of the tile (row r is group r % g), once per tile
    g_rows = None if gamma is None or not per_channel else np.tile(gamma, (s, 1))
    b_rows = None if beta is None or not per_channel else np.tile(beta, (s, 1))
    pieces: list[tuple[slice, ...]] = [(slice(None), slice(None))] if length <= chunk else chunks((q, t), chunk)
    step = max(1, chunk // max(length, 1))
    for first in range(0, s * g, step):
        last = min(first + step, s * g)
        block, oblock = rows[first:last], orows[first:last]
        head, tail, inv = _row_stats(block, oblock, pieces, centered, eps, what)
        d = oblock if head is not None and len(pieces) == 1 else None  # x - head, already in the output
        # y = (x [- head]) * scale + shift: per channel, gamma and beta folded into (k, q|1, 1)
        # float32 operands; layer/rms, (k, 1, 1) with gamma_t/beta_t applied after
        if per_channel:
            scale64 = inv[:, None] if g_rows is None else inv[:, None] * g_rows[first:last]
            shift64 = None if b_rows is None else b_rows[first:last]
            if tail is not None:
                shift64 = -tail[:, None] * scale64 if shift64 is None else shift64 - tail[:, None] * scale64
        else:
            scale64 = inv[:, None]
            shift64 = None if tail is None else -tail[:, None] * scale64
        scale = scale64.astype(np.float32)[:, :, None]
        shift = None if shift64 is None else shift64.astype(np.float32)[:, :, None]
        with row_buffers(t):  # elementwise passes that broadcast along rows of T; no reduction
            for qs, ts in pieces:
                out = oblock[:, qs, ts]
                sc = scale[:, qs] if scale.shape[1] > 1 else scale
                if d is not None:
                    np.multiply(d[:, qs, ts], sc, out=out)
                elif head is None:  # rms, or the mean folded into the shift
                    np.multiply(block[:, qs, ts], sc, out=out)
                else:
                    np.subtract(block[:, qs, ts], head[:, None, None], out=out)
                    np.multiply(out, sc, out=out)
                if shift is not None:
                    np.add(out, shift[:, qs] if shift.shape[1] > 1 else shift, out=out)
                if gamma_t is not None:
                    np.multiply(out, gamma_t.reshape(q, t)[qs, ts], out=out)
                if beta_t is not None:
                    np.add(out, beta_t.reshape(q, t)[qs, ts], out=out)


def _row_stats(
    block: np.ndarray, oblock: np.ndarray, pieces: list[tuple[slice, ...]], centered: bool, eps: float, what: str
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """(head, tail, 1/sqrt(var + eps)) of each row of a (k, Q, T) block, float64 but head
    (float32, None where the mean is folded into the shift: rms, or every |mean| <= std);
    tail is the mean (or its rest after head), None where it moves no output by 1/4 ulp.
    Where a head is taken and the row is one piece, x - head is left in `oblock`."""
    k = block.shape[0]
    length = block[0].size
    flat = block.reshape(k, length)
    # one read-only pass for each of sum x^2 and sum x (BLAS); where every row has
    # mean^2 <= var and x^2 did not overflow, var = E[x^2] - mean^2 loses at most a factor 2
    # of the sums' ~1e-7, and y = x * scale + (beta - mean * scale) at most an ulp: no
    # centred copy is needed
    s2 = _rowdot(flat, flat)
    if not centered:
        s2 /= length
        return None, None, _inverse_std(s2, eps, what, True)
    tail = _rowdot(flat, None)
    tail /= length
    squared = tail * tail
    var = s2 / length
    var -= squared
    head = None
    # centre on the mean rounded to float32 where |mean| > std, or where x^2 overflowed float32
    if not (bool((squared <= var).all()) and math.isfinite(float(s2.sum()))):
        head = tail.astype(np.float32)
        if len(pieces) == 1:  # x - head goes to the output, to be scaled there in place
            with row_buffers(block.shape[2]):
                np.subtract(block, head[:, None, None], out=oblock)
            dflat = oblock.reshape(k, length)
            tail, s2 = _rowdot(dflat, None) / length, _rowdot(dflat, dflat)
        else:
            tail, s2 = _long_stats(block[0], pieces, head[0])
        var = s2 / length - tail * tail
    inv = _inverse_std(np.maximum(var, 0.0, out=var), eps, what, False)
    # the rest of the mean is dropped where it moves every output by under 1/4 ulp (NaN: kept)
    return head, (None if float((np.abs(tail) * inv).max()) <= TAIL_NEGLIGIBLE else tail), inv


def _inverse_std(var: np.ndarray, eps: float, what: str, rms: bool) -> np.ndarray:
    """1/sqrt(var + eps) of a row block's variances (float64), as `inverse_std` computes it
    (and its error where var + eps <= 0), with fewer NumPy calls where every var + eps > 0."""
    total = var + eps
    if not bool((total > 0).all()):  # also NaN (the input held one): inverse_std passes it on
        return inverse_std(var, eps, what, rms)
    return np.divide(1.0, np.sqrt(total, out=total), out=total)


def _long_stats(row: np.ndarray, pieces: list[tuple[slice, ...]], head: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sum of squares of (row - head) of one (Q, T) row, piece by piece."""
    tail_sum, s2 = np.zeros(1), np.zeros(1)
    for qs, ts in pieces:
        part = row[qs, ts]
        d = scratch(2, part.shape, np.dtype(np.float32))
        np.subtract(part, head, out=d)
        dflat = d.reshape(1, d.size)
        tail_sum += _rowdot(dflat, None)
        s2 += _rowdot(dflat, dflat)
    return tail_sum / row.size, s2
