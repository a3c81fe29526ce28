"""Output that appears whole or not at all.

Files are written to a temporary name in the target folder, flushed and fsync'ed, then
renamed over the target, so a failure (bad data, a full disk, Ctrl-C, SIGTERM) never
leaves a half-written file or clobbers the one that was there. Within `staged_outputs()`
(every command of the CLI) the renames wait until the command has succeeded and are done
together: a failure of any output (say `--stats-json /dev/full`) leaves every old file as it
was. An output that exists and
is not a regular file (a device such as /dev/null or /dev/full, a named pipe) is written
in place: renaming over it would replace the device with a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from normcli.errors import DataError, UsageError
from normcli.io.formats import STDIO

__all__ = [
    "atomic_path",
    "check_output_path",
    "is_special",
    "open_output",
    "stage_directory",
    "staged_outputs",
    "std_stream",
    "stdout_alias",
    "write_error",
]

TMP_SUFFIX = ".normcli-tmp"
_TOKEN_HEX = 4  # random bytes in a temp name (twice as many hex digits)


def std_stream(name: str) -> BinaryIO:
    """sys.stdin.buffer or sys.stdout.buffer, or a clear error when that stream is closed."""
    stream = getattr(sys, name)
    if stream is None or getattr(stream, "buffer", None) is None:
        what = "standard input (stdin)" if name == "stdin" else "standard output (stdout)"
        fix = "give a file instead of '-'" if name == "stdin" else "write to a file with -o"
        raise DataError(f"{what} is closed; {fix}")
    return stream.buffer


# Paths that name an open stream of this process, not a file: written in place, never
# renamed over (that would replace /dev/stdout itself, for everyone).
_STREAM_PREFIXES = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/")


def is_special(output: str) -> bool:
    """Whether `output` is written in place: it exists and is not a regular file (a device,
    a pipe, a socket), or it is, or links through, a stream of this process (/dev/stdout,
    /proc/self/fd/1), even where that stream is a regular file (`-o /dev/stdout > out`)."""
    try:
        if not stat.S_ISREG(os.stat(output).st_mode):
            return True
    except OSError:
        return False
    path = os.path.abspath(output)
    for _ in range(40):  # the kernel's own limit on a chain of links
        if path.startswith(_STREAM_PREFIXES):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.join(os.path.dirname(path), os.readlink(path))
        path = os.path.abspath(path)
    return False


def stdout_alias(output: str) -> str:
    """'-' for a path that names this process's stdout (/dev/stdout, /dev/fd/1,
    /proc/self/fd/1), so it is written as stdout is, whatever stdout is (a pipe cannot be
    seeked or renamed over); any other path as it is."""
    names = ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", f"/proc/{os.getpid()}/fd/1")
    return STDIO if output in names else output


def _link_target(output: str) -> str:
    """The file a symbolic link `output` ends at, so that the link itself stays a link and
    the file it names is replaced; `output` itself when it is not a link."""
    return os.path.realpath(output) if os.path.islink(output) else output


def check_output_path(
    output: str, inputs: tuple[str, ...] = (), option: str = "-o", others: tuple[tuple[str, str], ...] = ()
) -> None:
    """Refuse an output that would overwrite an input or another output (`others`: pairs of
    option and path), or that cannot be created."""
    for other_option, other in others:
        if other and _same_destination(output, other):
            where = "stdout" if STDIO in (output, other) else "the same file"
            raise UsageError(
                f"{option} {output} and {other_option} {other} would both write to {where}; give them different paths"
            )
    if output == STDIO:
        return
    if not output:
        raise UsageError(f"{option} needs a file path, not an empty string")
    from normcli.io.fs import filesystem, remote_file

    if remote_file(output):
        filesystem(output)  # a missing filesystem package is named now, before any work
        if output in inputs:
            raise UsageError(f"{option} {output} is an input file; write to another path")
        return
    target = Path(output)
    try:
        os.stat(output)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"{option} {output} is a loop of symbolic links; give a file path") from None
    if target.is_dir():
        raise UsageError(f"{output} is a directory; {option} needs a file path")
    if is_special(output):
        return
    folder = Path(_link_target(output)).parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {output}: folder {str(folder)!r} does not exist")
    for inp in inputs:
        if inp == STDIO or not inp:
            continue
        try:
            same = target.exists() and os.path.samefile(inp, target)
        except OSError:
            same = False
        if same:
            raise UsageError(
                f"{option} {output} is an input file; write to another path (it is replaced only on success)"
            )


def _same_destination(a: str, b: str) -> bool:
    """Whether writing `a` and `b` ('-' is stdout) would land in one place: the same path
    once links are resolved, or the same existing file or pipe (a link to /proc/self/fd/1
    is stdout). Devices are left out: two writers of /dev/null do no harm."""
    if a == b == STDIO:
        return True
    if STDIO not in (a, b) and os.path.realpath(a) == os.path.realpath(b):
        return True
    ida = _file_identity(a)
    return ida is not None and ida == _file_identity(b)


def _file_identity(path: str) -> tuple[int, int] | None:
    """Device and inode of the regular file or pipe `path` ('-': stdout) names; None for a
    device, a path not there yet, or a closed stdout."""
    try:
        st = os.fstat(sys.stdout.fileno()) if path == STDIO else os.stat(path)
    except (OSError, AttributeError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode) else None


@contextlib.contextmanager
def atomic_path(output: str) -> Iterator[str]:
    """Yield a temporary path beside `output`; on success it is fsync'ed and renamed to
    `output` (inside `staged_outputs()`, when that block ends), on any failure (Ctrl-C
    included) removed. A device or pipe is yielded as is; a URL (s3://, gs://, ...) gets a
    local temporary file, uploaded whole on success (see `_remote_path`)."""
    from normcli.io.fs import remote_file

    if remote_file(output):
        with _remote_path(output) as tmp:
            yield tmp
        return
    if is_special(output):
        try:
            yield output
        except OSError as exc:
            raise write_error(output, exc) from None
        return
    target = Path(_link_target(output))
    folder = target.parent if str(target.parent) else Path(".")
    # The name is chosen before the file exists, so that cleanup knows it whatever instant
    # an interrupt lands at (mkstemp could be interrupted after creating its file).
    tmp = str(folder / temp_name(target.name, folder))
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise DataError(f"cannot write {output}: {exc.strerror or exc}") from None
        os.close(fd)
        yield tmp
        _fsync(tmp)
        _keep_mode(str(target), tmp)
        if _staged is not None:
            _staged.append(_Staged(tmp, str(target), output))
            return  # renamed with the command's other outputs, or removed if one fails
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            raise write_error(output, exc) from None
        raise


@contextlib.contextmanager
def _remote_path(output: str) -> Iterator[str]:
    """`atomic_path` for a URL: a local temporary file, uploaded whole to `output` on success
    (inside `staged_outputs()`, after the command's local outputs are in place), removed on
    any failure, so a failed command uploads nothing."""
    from normcli.io.fs import filesystem

    filesystem(output)
    fd, tmp = tempfile.mkstemp(prefix=".normcli-", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        yield tmp
        if _staged is not None:
            _staged.append(_Staged(tmp, output, output, remote=True))
            return
        _upload(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def temp_name(name: str, folder: Path | str = ".") -> str:
    """`.NAME.RANDOM.normcli-tmp`, with NAME shortened where the whole would pass the
    folder's limit on a file name (255 bytes on most file systems)."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    extra = 2 + 2 * _TOKEN_HEX + len(TMP_SUFFIX)
    raw = os.fsencode(name)
    if len(raw) + extra > limit:
        raw = raw[: max(limit - extra, 1)]
        name = raw.decode(errors="ignore") or "out"  # never cut a UTF-8 character in two
    return f".{name}.{secrets.token_hex(_TOKEN_HEX)}{TMP_SUFFIX}"


# --- outputs committed together --------------------------------------------------------------------


@dataclass
class _Staged:
    tmp: str  # the finished temporary file
    target: str  # the file it replaces (a link's target)
    output: str  # the path as the user gave it, for messages
    directory: bool = False  # a finished output folder (-o DIR/), renamed as a whole
    remote: bool = False  # a file for a URL: uploaded, last, when the local outputs are in place


_staged: list[_Staged] | None = None  # the outputs of the running command, while staging
_DEFERRED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)


@contextlib.contextmanager
def staged_outputs() -> Iterator[None]:
    """Keep every file written with `atomic_path` in this block under its temporary name and
    rename them all into place when the block ends without an error; if anything fails
    (an output, the report, a signal), remove them all, so every old file stays as it was."""
    global _staged
    if _staged is not None:  # already staging: these outputs join the outer block's
        yield
        return
    staged: list[_Staged] = []
    _staged = staged
    try:
        try:
            yield
        except BaseException:
            _discard(staged)
            raise
        deferred = _commit(staged)
    finally:
        _staged = None
    for signum in deferred:  # a signal that came during the renames: handled now, as usual
        signal.raise_signal(signum)


def stage_directory(tmp: str, target: str, output: str) -> None:
    """Within `staged_outputs()`: keep the finished folder `tmp` to be renamed to `target`
    together with the command's other outputs (an old `target` is replaced then, and put
    back if another output fails)."""
    if _staged is None:
        raise RuntimeError("stage_directory is called within staged_outputs()")
    _staged.append(_Staged(tmp, target, output, directory=True))


def _discard(staged: list[_Staged]) -> None:
    for s in staged:
        if s.directory:
            shutil.rmtree(s.tmp, ignore_errors=True)
            continue
        with contextlib.suppress(OSError):
            os.unlink(s.tmp)


def _move_aside(target: str) -> str | None:
    """An existing output folder renamed to a temporary name beside it (None if there is none)."""
    if not os.path.lexists(target):
        return None
    folder, name = os.path.split(target)
    backup = os.path.join(folder, temp_name(name, folder or "."))
    os.rename(target, backup)
    return backup


def _commit(staged: list[_Staged]) -> list[int]:
    """Rename every staged file into place. A signal arriving meanwhile waits until all are
    done (its number is returned); if a rename fails, the ones done are undone from the
    hard-link backups of the files they replaced. Returns the signals held back."""
    deferred: list[int] = []
    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: signals cannot be held back
        for signum in _DEFERRED_SIGNALS:
            if signal.getsignal(signum) not in (None, signal.SIG_IGN):
                previous[signum] = signal.signal(signum, lambda n, frame: deferred.append(n))
    done: list[tuple[_Staged, str | None, bool]] = []
    try:
        for s in staged:
            if s.remote:
                continue  # uploaded below, when every local output is in place
            existed = os.path.lexists(s.target)
            backup = None
            try:
                if s.directory:  # a folder cannot be replaced in one rename: the old one moves aside
                    backup = _move_aside(s.target)
                    os.rename(s.tmp, s.target)
                else:
                    backup = _backup(s.target) if existed and len(staged) > 1 else None
                    os.replace(s.tmp, s.target)
            except OSError as exc:
                if backup is not None and s.directory:
                    with contextlib.suppress(OSError):
                        os.rename(backup, s.target)
                elif backup is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(backup)
                _undo(done)
                _discard(staged)
                raise write_error(s.output, exc) from None
            done.append((s, backup, existed))
        for s in staged:
            if not s.remote:
                continue
            try:
                _upload(s.tmp, s.target)
            except DataError:  # an upload cannot be undone: the ones before it stay
                _undo(done)
                _discard(staged)
                raise
        for s, backup, _ in done:
            if backup is not None and s.directory:
                shutil.rmtree(backup, ignore_errors=True)
            elif backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(backup)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return list(dict.fromkeys(deferred))


def _upload(tmp: str, url: str) -> None:
    """Upload the finished local file `tmp` to `url`, then remove it."""
    from normcli.io.fs import upload

    upload(tmp, url)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _backup(target: str) -> str | None:
    """A hard link to the file at `target` (None if there is none, or links are not possible)."""
    folder, name = os.path.split(target)
    backup = os.path.join(folder, temp_name(name, folder or "."))
    try:
        os.link(target, backup)
    except OSError:
        return None
    return backup


def _undo(done: list[tuple[_Staged, str | None, bool]]) -> None:
    """Put back the files that renames in `done` replaced, and remove the ones they created.
    (Where a file existed but could not be linked, the new complete file stays.)"""
    for s, backup, existed in reversed(done):
        if s.directory:
            shutil.rmtree(s.target, ignore_errors=True)
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.rename(backup, s.target)
            continue
        with contextlib.suppress(OSError):
            if backup is not None:
                os.replace(backup, s.target)
            elif not existed:
                os.unlink(s.target)


def write_error(output: str, exc: OSError) -> DataError:
    """A failed write (disk full, quota, read-only) as one line naming the output."""
    reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    # pyarrow: "... Detail: [errno 28] No space left on device"
    reason = re.sub(r"^\[errno \d+\]\s*", "", reason.split("Detail: ")[-1].strip())
    return DataError(f"cannot write {output}: {reason}")


@contextlib.contextmanager
def open_output(output: str) -> Iterator[BinaryIO]:
    """A binary stream for `output`: stdout for '-', else an atomically replaced file."""
    if output == STDIO:
        out = std_stream("stdout")
        yield out
        out.flush()
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
    """The temp file is created 0600; give the result the mode a plain open() would."""
    try:
        mode = os.stat(output).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
