"""The float32 fast path of `normalize_block`: statistics that are contiguous rows of memory.

Instance and group norm on channels-first data, and layer and RMS norm, reduce each
statistic over one contiguous run of memory (a row). NumPy cannot fuse operations, so what
costs is the number of passes over memory and where the data is when they run. Here:

- rows are worked on a block at a time (whole rows, up to `chunk` values: norm_kernel's
  CHUNK_ELEMS), statistics and output together, while the block is in cache. Smaller
  blocks (64K values, to stay in L2) were measured slower: the Python work per block
  outweighs the cache misses they save;
- the sums are float32 BLAS dot products (one pass each, no temporary: sum x = x . 1,
  sum d^2 = d . d), over pieces of at most `BLAS_PIECE` values, added up in float64. A
  float32 dot of 2^16 values is good to ~1e-7 relative (measured: 1e-7 at 2^15, 3e-7 at
  2^18, 2e-6 at 2e6 values), so the pieces keep that whatever the length of a row;
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

import numpy as np

from normcli.tensor.norm_base import TAIL_NEGLIGIBLE, chunks, inverse_std, scratch

# Values summed by one float32 BLAS dot product (see the module docstring).
BLAS_PIECE = 1 << 16

_ONES = np.ones(BLAS_PIECE, dtype=np.float32)


def _rowdot(a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """sum over axis 1 of a * b (b None: of a), float64, for a 2-D float32 `a` with
    contiguous rows: float32 BLAS dots of at most BLAS_PIECE values, added in float64."""
    k, n = a.shape
    total = np.zeros(k)
    for start in range(0, n, BLAS_PIECE):
        stop = min(start + BLAS_PIECE, n)
        left = a[:, None, start:stop]
        right = _ONES[: stop - start, None] if b is None else b[:, start:stop, None]
        total += np.matmul(left, right).reshape(k)
    return total


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
    step = max(1, chunk // max(length, 1))
    for first in range(0, s * g, step):
        last = min(first + step, s * g)
        block, oblock = rows[first:last], orows[first:last]
        k = last - first
        flat = block.reshape(k, length)
        pieces: list[tuple[slice, ...]] = [(slice(None), slice(None))] if length <= chunk else chunks((q, t), chunk)
        # one read-only pass: sum x and sum x^2 (two BLAS dots); where every row has
        # mean^2 <= var, var = E[x^2] - mean^2 loses at most a factor 2 of the dots' ~1e-7,
        # and y = x * scale + (beta - mean * scale) at most an ulp: no centred copy is needed
        s2 = _rowdot(flat, flat)
        head: np.ndarray | None = None
        d: np.ndarray | None = None
        tail = np.zeros(k)
        if centered:
            tail = _rowdot(flat, None) / length
            # centre on the mean rounded to float32 where |mean| > std, or where x^2 overflowed float32
            if not (np.all(np.isfinite(s2)) and np.all(tail * tail <= s2 / length - tail * tail)):
                head = tail.astype(np.float32)
                if len(pieces) == 1:  # x - head goes to the output, then is scaled in place
                    d = oblock
                    np.subtract(block, head[:, None, None], out=d)
                    tail, s2 = (
                        _rowdot(d.reshape(k, length), None) / length,
                        _rowdot(d.reshape(k, length), d.reshape(k, length)),
                    )
                else:
                    tail, s2 = _long_stats(block[0], pieces, head[0])
        m2 = np.maximum(s2 - length * tail * tail, 0.0) if centered else s2
        inv = inverse_std(m2 / length, eps, what, not centered)
        if centered:
            with np.errstate(invalid="ignore", over="ignore"):
                if float(np.nanmax(np.abs(tail) * inv, initial=0.0)) <= TAIL_NEGLIGIBLE:
                    tail = np.zeros_like(tail)
        rows_g = np.arange(first, last) % g
        if per_channel:
            scale64 = np.broadcast_to(inv[:, None] * (1.0 if gamma is None else gamma[rows_g]), (k, q))
            shift64 = (0.0 if beta is None else beta[rows_g]) - tail[:, None] * scale64
            scale = scale64.astype(np.float32)[:, :, None]
            shift = None if beta is None and not np.any(tail) else shift64.astype(np.float32)
        else:
            scale = inv.astype(np.float32)[:, None, None]
            shift = None if not np.any(tail) else (-tail * inv).astype(np.float32)[:, None, None]
        for qs, ts in pieces:
            out = oblock[:, qs, ts]
            if d is not None:
                np.multiply(d[:, qs, ts], scale[:, qs], out=out)
            elif head is None:  # rms, or the mean folded into the shift
                np.multiply(block[:, qs, ts], scale[:, qs], out=out)
            else:
                np.subtract(block[:, qs, ts], head[:, None, None], out=out)
                np.multiply(out, scale[:, qs], out=out)
            if shift is not None:
                np.add(out, shift[:, qs, None] if per_channel else shift, out=out)
            if gamma_t is not None:
                np.multiply(out, gamma_t.reshape(q, t)[qs, ts], out=out)
            if beta_t is not None:
                np.add(out, beta_t.reshape(q, t)[qs, ts], out=out)


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
