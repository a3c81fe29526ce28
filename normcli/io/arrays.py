""".npy input and output without loading the array: memory maps for files, a header then
row blocks for pipes. Pickled (object) arrays are never loaded."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np

from normcli.errors import DataError, NormcliError, UsageError
from normcli.io.atomic import std_stream
from normcli.io.formats import STDIO, label
from normcli.io.inputs import is_stream, open_input, read_error, spool
from normcli.validate import first_line

__all__ = [
    "append_block",
    "batch_length",
    "block_axis",
    "iter_blocks",
    "iter_slabs",
    "load_array",
    "load_npy",
    "npy_header",
    "read_slab",
    "write_npy_header",
    "write_slab",
]

NPY_MAGIC = b"\x93NUMPY"


def load_npy(path: str) -> np.ndarray:
    """Memory-map a .npy file for reading, with clear errors for everything that is not a
    plain numeric array (pickles, structured dtypes, truncated files)."""
    src = label(path)
    if path == STDIO:
        return _read_npy_stream(std_stream("stdin"), src)
    if is_stream(path):  # a pipe or `<(...)`: read like stdin, it cannot be mapped
        stream, _ = open_input(path)
        with stream:
            return _read_npy_stream(stream, src)
    try:
        with open(path, "rb") as fh:
            shape, fortran, dtype = npy_header(fh, src)
            offset = fh.tell()
        size = os.path.getsize(path)
    except OSError as exc:
        raise DataError(f"{src}: {exc.strerror or exc}") from None
    _check_dtype(dtype, src)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size < expected:
        raise DataError(f"{src} is truncated: the header promises {expected} bytes, the file has {size}")
    if int(np.prod(shape, dtype=np.int64)) == 0:
        return np.empty(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def load_array(path: str, key: str | None = None) -> np.ndarray:
    """A numeric array from a .npy file (memory-mapped) or one member of an .npz archive
    (`key`; read into memory, as .npz members are compressed or at unknown offsets)."""
    if path != STDIO and path.lower().endswith(".npz"):
        return _load_npz_member(path, key)
    if key is not None:
        raise UsageError(f"--key names a member of an .npz archive, and {label(path)} is not one")
    return load_npy(path)


def _load_npz_member(path: str, key: str | None) -> np.ndarray:
    import zipfile

    source: str | BinaryIO = path
    if is_stream(path):  # a zip is read from its end: spool a pipe or `<(...)` first
        stream, _ = open_input(path)
        with stream:
            source = spool(stream, path)
    try:
        if not zipfile.is_zipfile(source):  # np.load would try it as a pickle and blame Python objects
            raise DataError(
                f"{path} is not an .npz archive (not a zip file); give an .npz written by np.savez, or a .npy"
            )
        with np.load(source, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is None:
                shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
                raise UsageError(f"{path} is an .npz archive of {len(names)} array(s) ({shown}); choose one with --key")
            if key not in names:
                raise UsageError(f"{path} has no array {key!r}; it holds {', '.join(names[:10])}")
            arr = archive[key]
    except NormcliError:  # a ValueError too, but ours: already one clear line
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        first = first_line(exc)
        if "allow_pickle" in first or "pickle" in first:
            raise DataError(
                f"{path}: array {key!r} holds Python objects (a pickle); normcli never loads them"
            ) from None
        raise DataError(f"{path} is not a readable .npz archive ({first})") from None
    finally:
        if not isinstance(source, str):
            source.close()
    _check_dtype(arr.dtype, f"{path}[{key}]")
    return arr


def npy_header(fh: BinaryIO, src: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Read a .npy header (shape, fortran_order, dtype) without ever unpickling anything."""
    prefix = fh.read(len(NPY_MAGIC) + 2)
    if not prefix.startswith(NPY_MAGIC) or len(prefix) < len(NPY_MAGIC) + 2:
        raise DataError(f"{src} {'is empty' if not prefix else 'is not a .npy file (no NumPy header)'}")
    version = (prefix[-2], prefix[-1])
    try:
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            header = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # numpy parses header text: any failure means a damaged header
        first = first_line(exc)
        raise DataError(f"{src} has a damaged .npy header ({first})") from None
    _check_shape(header[0], header[2], src)
    return header


def _check_shape(shape: tuple[int, ...], dtype: np.dtype, src: str) -> None:
    """A shape NumPy accepts in a header but no file can hold: a negative dimension, or more
    bytes than a 64-bit size counts (products computed exactly, in Python integers)."""
    if any(d < 0 for d in shape):
        raise DataError(f"{src} has a damaged .npy header (shape {shape} has a negative dimension)")
    if any(d >= 2**63 for d in shape) or math.prod(shape) * max(dtype.itemsize, 1) >= 2**63:
        raise DataError(f"{src} has a damaged .npy header (shape {shape} is larger than any file can be)")


def _check_dtype(dtype: np.dtype, src: str) -> None:
    if dtype.hasobject:
        raise DataError(f"{src} holds Python objects (a pickle); normcli never loads pickles, save numbers only")
    if dtype.kind not in "biuf":
        raise DataError(f"{src} has dtype {dtype}; normcli needs a numeric (bool, integer or float) array")


def _read_npy_stream(fh: BinaryIO, src: str) -> np.ndarray:
    """An .npy array from a pipe, read whole (a pipe cannot be memory-mapped)."""
    shape, fortran, dtype = npy_header(fh, src)
    _check_dtype(dtype, src)
    count = int(np.prod(shape, dtype=np.int64))
    data = fh.read(count * dtype.itemsize)
    if len(data) < count * dtype.itemsize:
        raise DataError(f"{src} is truncated: expected {count * dtype.itemsize} bytes of data, got {len(data)}")
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")


def write_npy_header(fh: BinaryIO, shape: tuple[int, ...], dtype: np.dtype) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
    try:
        np.lib.format.write_array_header_1_0(fh, header)
    except ValueError:
        np.lib.format.write_array_header_2_0(fh, header)


def append_block(fh: BinaryIO, block: np.ndarray, dtype: np.dtype) -> None:
    """Append `block`'s elements in C order to an .npy being written after its header."""
    if block.size:
        fh.write(np.ascontiguousarray(block, dtype=dtype).data.cast("B"))


def batch_length(shape: tuple[int, ...], itemsize: int, batch_axis: int, block_bytes: int) -> int:
    """How many indices along `batch_axis` make a block of about `block_bytes`."""
    extent = shape[batch_axis]
    per_index = itemsize * int(np.prod(shape)) // extent if extent else itemsize
    return max(1, block_bytes // max(per_index, 1))


def block_axis(shape: tuple[int, ...], itemsize: int, whole: Iterable[int], block_bytes: int) -> int | None:
    """The axis to cut an array of `shape` along into blocks of about `block_bytes`, keeping
    the `whole` axes (features, channels, windows) whole in every block: axis 0 when one
    index along it fits (blocks then follow the file, and stream to a pipe), else the
    outermost axis along which one index fits, else the axis with the smallest slab. None
    when every axis must stay whole, or the array is empty: the caller decides (one block)."""
    keep = {a % len(shape) for a in whole}
    candidates = [a for a in range(len(shape)) if a not in keep and shape[a] > 1]
    total = int(np.prod(shape, dtype=np.int64)) * itemsize
    if not candidates or total == 0:
        return None
    per_index = {a: total // shape[a] for a in candidates}
    fitting = [a for a in candidates if per_index[a] <= block_bytes]
    if fitting:
        return fitting[0]
    return min(candidates, key=lambda a: (per_index[a], a))


def iter_slabs(x: np.ndarray, axis: int, block_bytes: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start, block) along `axis` of `x`, each block a fresh in-memory array of about
    `block_bytes` (at least one index). A memory-mapped file is read with pread, one read per
    contiguous run, never through the mapping: the pages read are not charged to this
    process, so peak memory stays at a block or two along any axis, whatever the file size."""
    n = x.shape[axis]
    step = batch_length(x.shape, x.itemsize, axis, block_bytes)
    source = _mapped_file(x)
    if source is None:
        for start in range(0, n, step):
            index = (slice(None),) * axis + (slice(start, start + step),)
            yield start, np.array(x[index])
        return
    filename, offset, c_shape, transposed = source
    c_axis = x.ndim - 1 - axis if transposed else axis
    fd = os.open(filename, os.O_RDONLY)
    try:
        for start in range(0, n, step):
            stop = min(n, start + step)
            block = _pread_slab(fd, filename, offset, c_shape, x.dtype, c_axis, start, stop)
            yield start, block.T if transposed else block
    finally:
        os.close(fd)


def _mapped_file(x: np.ndarray) -> tuple[str, int, tuple[int, ...], bool] | None:
    """(file, data offset, C-order shape, transposed) when `x` is a whole memory-mapped
    .npy (C order, or Fortran order read as its C-ordered transpose); None otherwise."""
    if not isinstance(x, np.memmap) or x.filename is None or x.size == 0:
        return None
    if x.flags.c_contiguous:
        return x.filename, x.offset, x.shape, False
    if x.flags.f_contiguous:
        return x.filename, x.offset, x.T.shape, True
    return None


def _pread_slab(
    fd: int, filename: str, offset: int, shape: tuple[int, ...], dtype: np.dtype, axis: int, start: int, stop: int
) -> np.ndarray:
    """Indices start..stop along `axis` of the C-ordered array of `shape` at `offset` in the
    file: one contiguous run per index of the axes before `axis`."""
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64)) * dtype.itemsize
    run, stride = (stop - start) * inner, shape[axis] * inner
    buf = np.empty(outer * run, dtype=np.uint8)  # not zero-filled, unlike a bytearray
    view = buf.data
    for r in range(outer):
        at, got = offset + r * stride + start * inner, 0
        while got < run:
            try:
                chunk = os.preadv(fd, [view[r * run + got : (r + 1) * run]], at + got)
            except OSError as exc:  # an input that fails (EIO), named as the input
                raise read_error(filename, exc) from None
            if chunk == 0:
                raise DataError(f"{filename} was truncated while being read")
            got += chunk
    return buf.view(dtype).reshape((*shape[:axis], stop - start, *shape[axis + 1 :]))


def write_slab(fd: int, data_offset: int, shape: tuple[int, ...], axis: int, start: int, block: np.ndarray) -> None:
    """Write `block` (indices start.. along `axis`) into the C-ordered .npy data of `shape`
    at `data_offset` in the file: one pwrite per contiguous run, so the file is written in
    place without a memory map (whose dirty pages would count against this process)."""
    block = np.ascontiguousarray(block)
    if block.size == 0:
        return
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64)) * block.itemsize
    run, stride = block.shape[axis] * inner, shape[axis] * inner
    data = block.data.cast("B")
    for r in range(outer):
        piece, at = data[r * run : (r + 1) * run], data_offset + r * stride + start * inner
        while piece.nbytes:
            done = os.pwrite(fd, piece, at)
            piece, at = piece[done:], at + done


def iter_blocks(x: np.ndarray, block_bytes: int) -> Iterator[np.ndarray]:
    """Consecutive blocks of `x` along axis 0, each a fresh in-memory array of about
    `block_bytes`, read with pread from a memory-mapped file (see `iter_slabs`)."""
    for _, block in iter_slabs(x, 0, block_bytes):
        yield block


def read_slab(x: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    """`x[..., start:stop, ...]` (the slice along `axis`) as a fresh in-memory array.

    A memory map is read with pread, never through the mapping: touching a mapped page of a
    file that another process has truncated ends the process with SIGBUS, which nothing can
    catch or clean up after; a short read is a clear error instead."""
    source = _mapped_file(x)
    if source is None:
        return np.array(x[(slice(None),) * axis + (slice(start, stop),)])
    filename, offset, c_shape, transposed = source
    c_axis = x.ndim - 1 - axis if transposed else axis
    fd = os.open(filename, os.O_RDONLY)
    try:
        block = _pread_slab(fd, filename, offset, c_shape, x.dtype, c_axis, start, stop)
    finally:
        os.close(fd)
    return block.T if transposed else block
