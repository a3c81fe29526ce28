"""Helpers shared by the normalization kernels (`norm_kernel`, `norm_rows`): per-thread
scratch arrays, cutting a tile into cache-sized chunks, and 1/sqrt(var + eps) with its
error. Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from normcli.errors import DataError
from normcli.tensor.layout import fmt

# float32: the rest of the mean below float32's resolution (tail) is left out when it moves
# every output by at most this (1/4 ulp at 1), which saves a pass over the array; it is
# kept (y = (x - head) * a + (beta - tail * a)) for data whose |mean| / std is large.
TAIL_NEGLIGIBLE = 2.0**-26

# Elementwise operations that broadcast a per-row operand (a scale, a shift, gamma over T)
# along rows of ROW_BUFFER_MIN values up to NumPy's buffer size (8192 by default) were
# measured 1.5-2x slower than with the buffer no longer than a row (see `row_buffers`);
# below about 400 values the shorter buffer is the slower one.
ROW_BUFFER_MIN = 512

_SCRATCH = threading.local()


@contextmanager
def row_buffers(length: int) -> Iterator[None]:
    """Within it, NumPy's ufunc buffer on this thread is no longer than `length`, the
    contiguous run an elementwise operation broadcasts along.

    With rows shorter than its buffer, NumPy's iterator copies the operands into buffers to
    run inner loops of the buffer's length across rows; a broadcast row of 729 or 3025
    float32 values (27x27 and 55x55 maps) then costs about twice a plain multiply. With a
    buffer no longer than the row, the inner loop is the row itself, with no copy. Only for
    rows of ROW_BUFFER_MIN values and more, and only around elementwise operations (casts
    included), whose results do not depend on the buffer: keep reductions outside, as a
    sum's rounding does (NumPy sums each buffer pairwise). A buffer already no longer than
    the row is left alone. `np.setbufsize` is per thread (a context variable in NumPy 2,
    thread-local in 1.26), and the previous size is restored, also on an error; do not
    yield from inside it."""
    if length < ROW_BUFFER_MIN or np.getbufsize() <= length:
        yield
        return
    previous = np.setbufsize(length // 16 * 16)  # NumPy wants a multiple of 16
    try:
        yield
    finally:
        np.setbufsize(previous)


def scratch(slot: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A per-thread scratch array, reused from tile to tile."""
    cache = getattr(_SCRATCH, "arrays", None)
    if cache is None:
        cache = _SCRATCH.arrays = {}
    size = math.prod(shape)
    key = (slot, dtype)
    buf = cache.get(key)
    if buf is None or buf.size < size:
        buf = cache[key] = np.empty(max(size, 1), dtype=dtype)
    return buf[:size].reshape(shape)


def chunks(shape: tuple[int, ...], elems: int) -> list[tuple[slice, ...]]:
    """Index tuples cutting a 5-D tile into pieces of about `elems` elements, each a run of
    contiguous memory (the first axis whose remainder fits is cut; the axes before it go one
    index at a time), so that a piece and its scratch copies stay in a core's L2 cache."""
    extent = list(shape)
    for axis in range(len(shape)):
        if math.prod(shape[axis:]) <= elems:
            break
        rest = math.prod(shape[axis + 1 :])
        if rest <= elems:
            extent[axis] = max(1, elems // max(rest, 1))
            break
        extent[axis] = 1
    ranges = [range(0, n, e) for n, e in zip(shape, extent, strict=True)]
    return [
        tuple(slice(c, min(c + e, n)) for c, e, n in zip(corner, extent, shape, strict=True))
        for corner in itertools.product(*ranges)
    ]


def inverse_std(var: np.ndarray, eps: float, what: str, rms: bool) -> np.ndarray:
    """1/sqrt(var + eps), or a DataError counting where var + eps <= 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        total = var + eps
        bad = int(np.count_nonzero(total <= 0))
        if bad:
            kind = "mean square" if rms else "variance"
            raise DataError.about(
                "{kind_name} + eps <= 0 for {bad} of {size} {what} (eps={eps_value}: a constant "
                "{one} has {kind_name} 0); use {eps} > 0",
                kind_name=kind,
                bad=bad,
                size=var.size,
                what=what,
                eps_value=fmt(eps),
                one=what.rstrip("s"),
            )
        return 1.0 / np.sqrt(total)
