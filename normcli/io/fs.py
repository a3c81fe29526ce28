"""Inputs and outputs named by URL (`file://`, `s3://`, `gs://`, `abfs://`, `memory://`...),
through fsspec: never opened by hand.

Every scheme, `file://` included, takes the same path: the filesystem comes from
`fsspec.core.url_to_fs` (s3fs, gcsfs or adlfs must be installed for their schemes: a missing
one is named in a one-line error), directories are listed and globs expanded there, a Parquet
part is read through a pyarrow file over the fsspec file, a CSV part through the fsspec file
object (read once, in order, like stdin). A directory output is written into a temporary
folder beside it on the same filesystem (each part written to a local temporary file, then
uploaded), which is moved into place when every part has succeeded: on a local or POSIX
filesystem that move is a rename; on an object store (S3, GCS, Azure Blob) there are no
folders to rename, so the move copies each object and deletes the temporary ones, and a
reader can see a partly moved output while it runs (the parts themselves are never partial).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from normcli.errors import DataError, UsageError

__all__ = [
    "atomic_url_directory",
    "check_url_output_directory",
    "filesystem",
    "is_url",
    "list_url",
    "open_url_input",
]

# the pip package that brings each scheme's fsspec filesystem
PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "az": "adlfs",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_GLOB_CHARS = frozenset("*?[")


def url_scheme(arg: str) -> str | None:
    """The scheme of a URL argument (`s3` for s3://bucket/key), or None for a plain path."""
    m = _SCHEME.match(arg)
    return m.group(1).lower() if m else None


def is_url(arg: str) -> bool:
    return url_scheme(arg) is not None


def remote_file(arg: str) -> bool:
    """Whether `arg` names a file through an fsspec filesystem: a URL of a scheme other than
    file:// (which names a local path, written and renamed in place as any path is)."""
    scheme = url_scheme(arg)
    return scheme is not None and scheme != "file"


def upload(local: str, url: str) -> None:
    """Copy the finished local file to `url` whole. On an object store (S3, GCS, Azure) one
    PUT replaces the object at once: readers see the old file or the new, never a part."""
    fs, path = filesystem(url)
    try:
        fs.put_file(local, path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot write {url}: {exc}") from None


def read_url(url: str, limit: int) -> bytes:
    """Up to `limit` bytes of the file at `url` (a scaler file: small)."""
    fs, path = filesystem(url)
    try:
        with fs.open(path, "rb") as fh:
            return bytes(fh.read(limit))
    except FileNotFoundError:
        raise DataError(f"{url}: no such file") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{url}: cannot read it: {exc}") from None


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of `url` and the path on it."""
    scheme = url_scheme(url) or "file"
    if scheme == "file":
        from urllib.parse import urlsplit

        host = urlsplit(url).netloc
        if host not in ("", "localhost"):
            raise UsageError(f"{url}: a file:// URL names a file on this machine (file:///path), not on {host}")
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError:
        raise UsageError(f"{url}: URLs are read through fsspec: pip install fsspec") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError:
        package = PACKAGES.get(scheme, f"the fsspec filesystem for {scheme}://")
        raise UsageError(f"{url}: {scheme}:// needs the {package} package: pip install {package}") from None
    except ValueError as exc:
        if "protocol" in str(exc).lower():
            raise UsageError(f"{url}: {scheme}:// is not a filesystem fsspec knows (file, s3, gs, abfs, ...)") from None
        raise UsageError(f"{url}: {exc}") from None
    return fs, path


def _url(fs: Any, path: str) -> str:
    return str(fs.unstrip_protocol(path))


def list_url(arg: str, fmt: str | None, extensions: Any) -> list[tuple[str, str | None, tuple[tuple[str, str], ...]]]:
    """The data files that `arg` names: (URL, the URL of its dataset root or None, hive keys)."""
    fs, path = filesystem(arg)
    try:
        if _GLOB_CHARS & set(path):
            matches = sorted(fs.glob(path))
            if not matches:
                raise DataError(f"{arg}: no such file, and no file matches it as a pattern")
            out: list[tuple[str, str | None, tuple[tuple[str, str], ...]]] = []
            for m in matches:
                out.extend(_walk(fs, m, fmt, extensions, arg) if fs.isdir(m) else [(_url(fs, m), None, ())])
            return out
        if fs.isdir(path):
            return _walk(fs, path, fmt, extensions, arg)
        if fs.exists(path):
            return [(_url(fs, path), None, ())]
    except OSError as exc:
        raise DataError(f"{arg}: cannot list it: {exc}") from None
    raise DataError(f"{arg}: no such file")


def _walk(
    fs: Any, root: str, fmt: str | None, extensions: Any, shown: str
) -> list[tuple[str, str | None, tuple[tuple[str, str], ...]]]:
    """The data files under `root`, sorted, skipping names that start with '.' or '_' (as
    pyarrow.dataset does) and, without a format, files of no data format."""
    root = root.rstrip("/")
    out = []
    for found in sorted(fs.find(root)):
        rel = found[len(root) :].lstrip("/")
        names = rel.split("/")
        if any(n.startswith((".", "_")) for n in names):
            continue
        if fmt is None and os.path.splitext(names[-1])[1].lower() not in extensions:
            continue
        keys = tuple(tuple(n.split("=", 1)) for n in names[:-1] if "=" in n)
        out.append((_url(fs, found), _url(fs, root), keys))
    if not out:
        raise DataError(f"{shown} is a directory with no data files in it")
    return out  # type: ignore[return-value]


def relative_url(url: str, root: str | None) -> str:
    """The part's name below its dataset root (its file name when it has none)."""
    if root is None:
        return url.rstrip("/").rsplit("/", 1)[-1]
    return url[len(root.rstrip("/")) :].lstrip("/")


def check_readable(url: str) -> tuple[Any, str]:
    fs, path = filesystem(url)
    try:
        if fs.isdir(path):
            raise DataError(f"{url} is a directory, not a data file")
        if not fs.exists(path):
            raise DataError(f"{url}: no such file")
    except OSError as exc:
        raise DataError(f"{url}: {exc}") from None
    return fs, path


def open_url_input(url: str) -> tuple[BinaryIO, int]:
    """The fsspec file of `url`, open for reading, and its size."""
    fs, inner = check_readable(url)
    try:
        return fs.open(inner, "rb"), int(fs.size(inner))
    except OSError as exc:
        raise DataError(f"{url}: {exc}") from None


# --- directory outputs ---------------------------------------------------------------------------


def check_url_output_directory(output: str, *, overwrite: bool) -> None:
    fs, path = filesystem(output)
    path = path.rstrip("/")
    if fs.isfile(path):
        raise UsageError(f"{output} is a file, not a directory; name another output directory")
    if fs.isdir(path) and not overwrite:
        raise UsageError.about("{path} exists; add {overwrite} to replace it, or name a new directory", path=output)


@contextlib.contextmanager
def atomic_url_directory(output: str, *, overwrite: bool) -> Iterator[str]:
    """A temporary folder (URL) beside `output` on its filesystem, moved to `output` when the
    block succeeds and removed on any failure."""
    import secrets

    fs, path = filesystem(output)
    path = path.rstrip("/")
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.{name}.{secrets.token_hex(6)}.normcli-tmp"
    try:
        fs.makedirs(tmp, exist_ok=True)
        yield _url(fs, tmp)
        if fs.exists(path):
            if not overwrite:
                raise UsageError.about(
                    "{path} exists; add {overwrite} to replace it, or name a new directory", path=output
                )
            fs.rm(path, recursive=True)
        fs.mv(tmp, path, recursive=True)
    except BaseException as exc:
        with contextlib.suppress(OSError, FileNotFoundError):
            if fs.exists(tmp):
                fs.rm(tmp, recursive=True)
        if isinstance(exc, OSError):
            raise DataError(f"cannot write {output}: {exc}") from None
        raise
