"""How an input is opened: once, from start to end, when it cannot be read twice.

stdin, a named pipe (FIFO), a process substitution `<(...)` (/dev/fd/N) or a device can be
read only once: reopening a FIFO waits forever for a new writer, and seeking a pipe fails. So
such inputs are never reopened or seeked; a reader that needs a second pass or random access
(Parquet and .npz keep their index at the end) spools them to an anonymous temporary file.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from typing import BinaryIO

from normcli.errors import DataError
from normcli.io.atomic import std_stream
from normcli.io.formats import STDIO, label

__all__ = ["is_stream", "open_input", "read_error", "spool"]


def is_stream(path: str) -> bool:
    """Whether `path` can be read only once, from start to end: stdin, a named pipe (FIFO), a
    process substitution `<(...)` (/dev/fd/N), a character device or socket. Such inputs
    are read like stdin: never reopened, never seeked, spooled where a second pass is needed."""
    if path == STDIO:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def open_input(path: str) -> tuple[BinaryIO, bool]:
    """The input's bytes, and whether they can be read again from the start (a regular file
    can; stdin and the other streams of `is_stream` cannot)."""
    if path == STDIO:
        return std_stream("stdin"), False
    try:
        fh = open(path, "rb")  # noqa: SIM115 - the reader closes it
    except OSError as exc:
        raise DataError(f"{label(path)}: {exc.strerror or exc}") from None
    try:
        regular = stat.S_ISREG(os.fstat(fh.fileno()).st_mode)
    except OSError:
        regular = False
    return fh, regular


def spool(stream: BinaryIO, source: str) -> BinaryIO:
    """Copy a stream that cannot be reread into an anonymous temporary file (removed by the
    system when closed, or when the process ends in any way), positioned at its start."""
    try:
        spooled = tempfile.TemporaryFile(prefix="normcli-spool-")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise spool_error(source, exc) from None
    try:
        copy_into(stream, spooled, source)
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled


def copy_into(stream: BinaryIO, out: BinaryIO, source: str) -> None:
    """Copy `stream` (the input `source`) into the temporary file `out`, flushed; a full
    temporary folder or a failed read as one line that says which and the fix."""
    try:
        shutil.copyfileobj(stream, out, 1 << 20)
        out.flush()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise spool_error(source, exc) from None
        raise read_error(source, exc) from None


def spool_error(source: str, exc: OSError) -> DataError:
    """The temporary folder could not hold a copy of `source`."""
    folder = tempfile.gettempdir()
    fix = "; set TMPDIR to a folder with room" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ""
    return DataError(f"cannot spool {source} in the temporary folder {folder}: {exc.strerror or exc}{fix}")


def read_error(source: str, exc: OSError) -> DataError:
    """A failed read of an input, as one line naming it (inside a command that is writing an
    output, an OSError would otherwise be reported as a failure to write that output)."""
    reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    return DataError(f"cannot read {source}: {reason}")
