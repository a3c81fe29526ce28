"""The streaming loop behind `normcli lrn`: Local Response Normalization of a .npy array a
block at a time, with the per-channel statistics and histograms before and after. No
options, no terminals; `normcli.pipeline` re-exports `lrn_file` and `LrnResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from normcli.sketch import Histogram
from normcli.stats import ChannelStats

if TYPE_CHECKING:  # pipeline re-exports this module's names: no import back at run time
    from normcli.pipeline import Progress

__all__ = ["LRN_BLOCK_BYTES", "LrnResult", "lrn_file"]

LRN_BLOCK_BYTES = 32 << 20  # input read per step; the kernel tiles each block for the cache


@dataclass
class LrnResult:
    """What `lrn_file` did: the output dtype, float16 overflows, and (when asked) the
    per-channel statistics before and after."""

    out_dtype: np.dtype
    overflow: int = 0
    before: ChannelStats | None = None
    after: ChannelStats | None = None
    histograms: dict[str, Any] | None = None  # with_hist: every value's histogram before and after


def lrn_file(
    x: np.ndarray,
    output: str,
    spec: Any,
    *,
    with_stats: bool,
    with_hist: bool = False,
    block_bytes: int = LRN_BLOCK_BYTES,
    progress: Progress | None = None,
) -> LrnResult:
    """Apply the LRN `spec` to `x` (usually a read-only memory map) and write the .npy
    `output` ('-': stdout), a block at a time: read a block, normalise it, gather its
    statistics, write it. Blocks hold every channel and the whole window; they follow axis 0
    (appended: this streams to a pipe) unless the channels or windows lie along axis 0 or
    one sample is too large, when they are slabs along another axis written in place. Peak
    memory is a few blocks whatever the size of the array; a file output replaces `output`
    only on success."""
    from normcli.io.arrays import block_axis, iter_slabs, read_slab
    from normcli.io.batch import ArrayBatch
    from normcli.io.writers import open_npy_stream, open_writer
    from normcli.lrn_kernel import count_overflow, lrn_apply, output_dtype

    native = x.dtype.newbyteorder("=")  # a big-endian array (`>f4`) is computed and written natively
    result = LrnResult(output_dtype(native))
    channels = x.shape[spec.channel_axis]
    before, after = ChannelStats.empty(channels), ChannelStats.empty(channels)
    if with_stats:
        result.before, result.after = before, after
    hist_before, hist_after = Histogram(), Histogram()
    axis = None if x.size == 0 else block_axis(x.shape, x.itemsize, (spec.channel_axis, *spec.window_axes), block_bytes)

    def normalise(block: np.ndarray) -> np.ndarray:
        if block.dtype != native:
            block = block.astype(native)
        y = lrn_apply(block, spec)
        if result.out_dtype == np.float16 or spec.bias < 1:  # k < 1 lets y outgrow x
            result.overflow += count_overflow(block, y)
        if with_stats:
            before.add(block, spec.channel_axis)
            after.add(y, spec.channel_axis)
        if with_hist:
            hist_before.update(block)
            hist_after.update(y)
            result.histograms = {"before": hist_before.summary(), "after": hist_after.summary()}
        return y

    done = 0
    if axis is None or axis == 0:
        # along axis 0, or (every axis needed whole, or an empty array) one block in memory
        if axis == 0 and x.shape[0]:
            blocks = iter_slabs(x, 0, block_bytes)
        else:  # read with pread, not through the mapping (a truncated file would be SIGBUS)
            blocks = iter([(0, read_slab(x, 0, 0, x.shape[0]) if x.ndim else np.asarray(x))])
        with open_npy_stream(output, x.shape, result.out_dtype) as write:
            for _, block in blocks:
                write(normalise(block))
                done += block.nbytes
                if progress:
                    progress("lrn", done, x.nbytes)
        return result
    with open_writer(output, "npy", shape=x.shape, dtype=result.out_dtype) as writer:
        for start, block in iter_slabs(x, axis, block_bytes):
            writer.write(ArrayBatch(normalise(block), spec.channel_axis, "lrn", start, axis))
            done += block.nbytes
            if progress:
                progress("lrn", done, x.nbytes)
    return result
