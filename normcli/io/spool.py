"""stdin kept in a temporary file, for commands that read their input twice (fit --apply)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from normcli.errors import NormcliError
from normcli.io.atomic import std_stream
from normcli.io.formats import STDIO

__all__ = ["SPOOL_PREFIX", "spooled"]

SPOOL_PREFIX = ".normcli-spool-"


@contextlib.contextmanager
def spooled(path: str) -> Iterator[str]:
    """`path` itself, or for '-' a temporary copy of stdin (in $TMPDIR) that is removed on
    every way out: success, an error, Ctrl-C or SIGTERM. Errors that name the copy name
    <stdin> instead."""
    if path != STDIO:
        yield path
        return
    fd, spool = tempfile.mkstemp(prefix=SPOOL_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(std_stream("stdin"), out, 1 << 20)
        try:
            yield spool
        except NormcliError as exc:
            if spool in str(exc):
                raise type(exc)(str(exc).replace(spool, "<stdin>")) from None
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)
