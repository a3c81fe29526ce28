"""stdin kept in a temporary file, for commands that read their input twice (fit --apply)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from normcli.errors import NormcliError
from normcli.io.atomic import std_stream
from normcli.io.formats import STDIO
from normcli.io.inputs import copy_into, spool_error

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
    try:
        fd, spool = tempfile.mkstemp(prefix=SPOOL_PREFIX)
    except OSError as exc:
        raise spool_error("<stdin>", exc) from None
    try:
        with os.fdopen(fd, "wb") as out:
            copy_into(std_stream("stdin"), out, "<stdin>")
        try:
            yield spool
        except NormcliError as exc:
            if spool in str(exc):
                raise type(exc)(str(exc).replace(spool, "<stdin>")) from None
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)
