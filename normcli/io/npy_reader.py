""".npy input as batches of named columns: the features of an N-D array along one axis."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from normcli.errors import DataError, UsageError
from normcli.io.arrays import block_axis, iter_slabs, load_npy
from normcli.io.batch import ArrayBatch
from normcli.io.formats import label
from normcli.io.reader_base import Reader
from normcli.layout import Layout

__all__ = ["NPY_BATCH_BYTES", "ArrayReader"]

NPY_BATCH_BYTES = 8 << 20  # with a batch or two queued on each side of the main thread


class ArrayReader(Reader):
    """An N-D array whose features lie along `axis`: a 2-D array is rows x features, a 1-D
    array one feature; other ranks need --axis. Batches are blocks along another axis
    (`block_axis`), each holding every feature, read with pread."""

    format = "npy"

    def __init__(self, path: str, axis: int | None = None) -> None:
        self.label = label(path)
        data = load_npy(path)
        self.total_bytes = data.nbytes
        self.shape = data.shape
        self.dtype = data.dtype
        if data.ndim == 0:
            raise DataError(f"{self.label} holds a single number (a 0-D array); nothing to scale")
        if data.ndim == 1:  # one feature: seen as (n, 1), the layout a scaler records for it
            if axis not in (None, 0, 1, -1):
                raise UsageError(f"--axis {axis} is out of range for the 1-D array in {self.label}")
            data, axis = data.reshape(-1, 1), 1
        elif axis is None:
            if data.ndim > 2:
                raise UsageError(
                    f"{self.label} is a {data.ndim}-D array {data.shape}; name its feature axis with --axis K "
                    "(e.g. --axis 1 for N x C x H x W)"
                )
            axis = 1
        if not -data.ndim <= axis < data.ndim:
            raise UsageError(f"--axis {axis} is out of range for the {data.ndim}-D array in {self.label}")
        self.axis = axis % data.ndim
        self.data = data
        chosen = block_axis(data.shape, data.dtype.itemsize, (self.axis,), NPY_BATCH_BYTES)
        self.batch_axis = (0 if self.axis != 0 else 1) if chosen is None else chosen
        self.names = [str(j) for j in range(data.shape[self.axis])]
        self.numeric_names = list(self.names)
        self.layout = Layout.array(data.ndim, self.axis)

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[ArrayBatch]:  # every feature, always
        for start, block in iter_slabs(self.data, self.batch_axis, NPY_BATCH_BYTES):
            self.bytes_read += block.nbytes
            yield ArrayBatch(block, self.axis, self.label, start, self.batch_axis)
