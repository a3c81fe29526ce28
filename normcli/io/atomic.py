"""Output that appears whole or not at all.

Files are written to a temporary name in the target folder, flushed and fsync'ed, then
renamed over the target, so a failure (bad data, a full disk, Ctrl-C, SIGTERM) never
leaves a half-written file or clobbers the one that was there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from normcli.errors import DataError, UsageError
from normcli.io.formats import STDIO

__all__ = ["atomic_path", "check_output_path", "open_output"]


def check_output_path(output: str, inputs: tuple[str, ...] = ()) -> None:
    """Refuse an output that would overwrite an input or cannot be created."""
    if output == STDIO:
        return
    target = Path(output)
    if target.is_dir():
        raise UsageError(f"{output} is a directory; -o needs a file path")
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {output}: folder {str(folder)!r} does not exist")
    for inp in inputs:
        if inp == STDIO:
            continue
        try:
            same = target.exists() and os.path.samefile(inp, target)
        except OSError:
            same = False
        if same:
            raise UsageError(f"-o {output} is the input file; write to another path (it is replaced only on success)")


@contextlib.contextmanager
def atomic_path(output: str) -> Iterator[str]:
    """Yield a temporary path beside `output`; on success it is fsync'ed and renamed to
    `output`, on any failure removed."""
    target = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".normcli-tmp", dir=target.parent or ".")
    except OSError as exc:
        raise DataError(f"cannot write {output}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield tmp
        _fsync(tmp)
        _keep_mode(output, tmp)
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def open_output(output: str) -> Iterator[BinaryIO]:
    """A binary stream for `output`: stdout for '-', else an atomically replaced file."""
    if output == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with atomic_path(output) as tmp, open(tmp, "wb") as fh:
        yield fh


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_mode(output: str, tmp: str) -> None:
    """mkstemp creates 0600 files; give the result the mode a plain open() would."""
    try:
        mode = os.stat(output).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
