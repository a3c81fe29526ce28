"""Datasets: several inputs read as one table.

A dataset is a list of parts (files) found from several paths, quoted globs and
directories, in a deterministic order: the paths in the order given, each glob and each
directory sorted by path. Folders named `key=value` (hive partitions) below a directory
become pass-through columns of the parts inside them. `DatasetReader` chains the ordinary
readers of the parts (one open at a time), so a fit over N files is the fit over their
concatenation, and checks that every part has the columns of the first.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from normcli.errors import DataError, UsageError
from normcli.io.atomic import stage_directory, staged_outputs, temp_name, write_error
from normcli.io.batch import ArrayBatch, TableBatch
from normcli.io.formats import _EXTENSIONS, STDIO, compression_suffix, detect_format
from normcli.io.readers import Reader, TableReader
from normcli.io.writers import CsvWriter, ParquetWriter, Writer

__all__ = [
    "Dataset",
    "DatasetReader",
    "Part",
    "atomic_directory",
    "check_output_directory",
    "check_part",
    "expand_inputs",
    "is_dataset_argument",
    "is_directory_output",
    "local_path",
    "output_location",
    "open_part_writer",
    "output_part_name",
]

_GLOB_CHARS = frozenset("*?[")
_TABLE_FORMATS = ("csv", "tsv", "parquet")


@dataclass(frozen=True)
class Part:
    """One file of a dataset: its path, its name relative to the dataset's root (the name
    of its output part) and the hive keys of the folders it lies in."""

    path: str
    relpath: str
    keys: tuple[tuple[str, Any], ...] = ()
    label: str = ""  # how messages name it: the path as found (set from `path` when empty)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.path)


@dataclass
class Dataset:
    """The parts of a dataset, their common format, and how it is named in messages."""

    parts: list[Part]
    format: str
    label: str
    key_names: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.parts]


def local_path(arg: str) -> str:
    """A `file://` URL as the local path it names; a plain path, or a URL of another scheme
    (written through its fsspec filesystem: normcli/io/fs.py), as it is."""
    scheme, sep, _ = arg.partition("://")
    if not sep or not scheme.isalnum() or scheme.lower() != "file":
        return arg
    from urllib.parse import unquote, urlsplit

    url = urlsplit(arg)
    if url.netloc not in ("", "localhost"):
        raise UsageError(f"{arg}: a file:// URL names a file on this machine (file:///path), not on {url.netloc}")
    path = unquote(url.path)
    return path + "/" if arg.endswith("/") and not path.endswith("/") else path


def output_location(output: str) -> str:
    """Where an output goes: a directory URL (`scheme://.../`) as it is, through its
    filesystem; anything else as `local_path` has it."""
    if output.endswith("/") and "://" in output:
        from normcli.io.fs import filesystem, is_url

        if is_url(output):
            filesystem(output)  # a missing filesystem package is named now, before any work
            return output
    return local_path(output)


def is_dataset_argument(paths: Sequence[str]) -> bool:
    """Whether INPUT... names a dataset (several paths, a glob, a directory, a URL) rather
    than one file or stdin, which keep the single-file path and its messages."""
    if len(paths) != 1:
        return True
    if "://" in paths[0]:
        return True
    path = paths[0]
    if path == STDIO:
        return False
    if os.path.isdir(path):
        return True
    # a pattern matching nothing stays a path, reported as a missing file
    return not os.path.lexists(path) and bool(_GLOB_CHARS & set(path)) and bool(glob.glob(path, recursive=True))


def expand_inputs(paths: Sequence[str], fmt: str | None = None) -> Dataset:
    """The parts named by `paths`: files as given, globs and directories expanded and sorted."""
    if STDIO in paths:
        raise UsageError("'-' (stdin) cannot be one of several inputs; name files, globs or directories")
    if any("://" in p for p in paths):
        from normcli.io.fs import is_url

        if any(is_url(p) for p in paths):
            return _expand_urls(paths, fmt)
    found: list[tuple[str, str | None, tuple[tuple[str, str], ...]]] = []  # path, root, raw keys
    for arg in paths:
        if os.path.isdir(arg):
            found.extend(_walk(arg, fmt))
        elif os.path.lexists(arg):
            found.append((arg, None, ()))
        elif _GLOB_CHARS & set(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise DataError(f"{arg}: no such file, and no file matches it as a pattern (quote a pattern)")
            for m in matches:
                found.extend(_walk(m, fmt) if os.path.isdir(m) else [(m, None, ())])
        else:
            raise DataError(f"{arg}: no such file")
    seen: dict[str, str] = {}
    for path, _, _ in found:
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{path} is named twice among the inputs (also as {seen[real]}); name each part once")
        seen[real] = path
    part_format = _common_format([path for path, _, _ in found], fmt)
    loose = [os.path.dirname(p) or "." for p, root, _ in found if root is None]
    common = os.path.commonpath([os.path.abspath(d) for d in loose]) if loose else ""
    rels = [
        os.path.relpath(os.path.abspath(path), common) if root is None else os.path.relpath(path, root)
        for path, root, _ in found
    ]
    return _assemble(paths, part_format, found, rels)


def _assemble(
    paths: Sequence[str], part_format: str, found: list[tuple[str, Any, tuple[tuple[str, str], ...]]], rels: list[str]
) -> Dataset:
    """The dataset of the files `found` (path, root, hive keys), each named `rels` in outputs."""
    typed = _typed_keys([keys for _, _, keys in found])
    parts = []
    names: dict[str, str] = {}
    for (path, _, _), keys, rel in zip(found, typed, rels, strict=True):
        if rel in names:
            raise UsageError(f"{path} and {names[rel]} would write the same output part {rel!r}; rename one")
        names[rel] = path
        parts.append(Part(path, rel, keys))
    key_names = list(dict.fromkeys(k for p in parts for k, _ in p.keys))
    label = paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more"
    return Dataset(parts, part_format, f"{label} ({len(parts)} part{'s' if len(parts) != 1 else ''})", key_names)


def _expand_urls(paths: Sequence[str], fmt: str | None) -> Dataset:
    """`expand_inputs` for URLs (every input one): listed through their filesystems."""
    from normcli.io.fs import is_url, list_url, relative_url

    plain = [p for p in paths if not is_url(p)]
    if plain:
        raise UsageError(f"{plain[0]}: name every input as a URL (file:///path for a local one), or none")
    found = [f for arg in paths for f in list_url(arg, fmt, _EXTENSIONS)]
    seen: dict[str, str] = {}
    for url, _, _ in found:
        if url in seen:
            raise UsageError(f"{url} is named twice among the inputs; name each part once")
        seen[url] = url
    part_format = _common_format([u for u, _, _ in found], fmt)
    return _assemble(paths, part_format, found, [relative_url(url, root) for url, root, _ in found])


def _common_format(paths: list[str], fmt: str | None) -> str:
    formats: dict[str, str] = {}
    for path in paths:
        formats.setdefault(detect_format(path, fmt), path)
    if len(formats) > 1:
        listed = ", ".join(f"{f} ({p})" for f, p in formats.items())
        raise UsageError(f"the inputs mix formats: {listed}; name the files of one format (a quoted glob: 'DIR/*.csv')")
    (part_format,) = formats
    if part_format not in _TABLE_FORMATS:
        raise UsageError(f"a dataset of {part_format} files is not supported; give one .npy file at a time")
    return part_format


def _walk(root: str, fmt: str | None) -> list[tuple[str, str | None, tuple[tuple[str, str], ...]]]:
    """The data files under `root`, sorted; names starting with '.' or '_' (_SUCCESS,
    .crc, temporary files) are skipped, as Spark and pyarrow.dataset do, and without a
    --format so are files whose extension names no data format (a README, a script)."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        rel = os.path.relpath(folder, root)
        keys = tuple(tuple(c.split("=", 1)) for c in ([] if rel == "." else rel.split(os.sep)) if "=" in c)
        for name in sorted(files):
            if name.startswith((".", "_")):
                continue
            if fmt is None and os.path.splitext(compression_suffix(name)[0])[1].lower() not in _EXTENSIONS:
                continue
            out.append((os.path.join(folder, name), root, keys))
    out.sort(key=lambda t: t[0])
    if not out:
        raise DataError(f"{root} is a directory with no data files in it")
    return out  # type: ignore[return-value]


def _typed_keys(raw: list[tuple[tuple[str, str], ...]]) -> list[tuple[tuple[str, Any], ...]]:
    """Hive values as integers where every value of a key is one, else as text (as pyarrow's
    hive partitioning infers them)."""
    values: dict[str, list[str]] = {}
    for keys in raw:
        for k, v in keys:
            values.setdefault(k, []).append(v)
    integer = {k: all(_is_int(v) for v in vs) for k, vs in values.items()}
    return [tuple((k, int(v) if integer[k] else v) for k, v in keys) for keys in raw]


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


class DatasetReader(TableReader):
    """The parts of a dataset read one after another as one table, through their own
    readers (`open_part`). The first part decides the columns and which are numeric; a later
    part lacking one, or holding a numeric one as text, is an error naming that part. With
    `with_keys`, the hive keys are appended to every batch as pass-through columns."""

    def __init__(self, dataset: Dataset, open_part: Callable[[str], Reader], *, with_keys: bool = True) -> None:
        self.dataset = dataset
        self.label = dataset.label
        self.format = dataset.format
        self._open_part = open_part
        self._keys = dataset.key_names if with_keys else []
        first = open_part(dataset.parts[0].path)
        self._first = first
        self._current: Reader | None = first
        self._first_label = first.label
        clash = [k for k in self._keys if k in first.names]
        if clash:
            first.close()
            raise DataError(
                f"{first.label} has a column {clash[0]!r}, and its folder name {clash[0]}=... gives one too; rename one"
            )
        self.names = list(first.names) + self._keys
        self.numeric_names = list(first.numeric_names)
        self.empty_names = list(getattr(first, "empty_names", ()))
        self.layout = first.layout
        self.total_bytes = sum(_size(p.path) for p in dataset.parts)
        self.parts_read = 0
        self._schema: pa.Schema | None = None

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch | ArrayBatch]:
        wanted = None if columns is None else list(columns)
        file_columns = None if wanted is None else [c for c in wanted if c not in self._keys]
        done = 0
        for i, part in enumerate(self.dataset.parts):
            reader = self._first if i == 0 else self._open_part(part.path)
            self._current = reader
            with reader:
                self._check_part(reader, file_columns)
                for batch in reader.batches(columns=file_columns):
                    self.bytes_read = done + reader.bytes_read
                    yield self._conform(batch, part, reader.label, wanted)
            done += _size(part.path)
            self.bytes_read = done
            self.parts_read += 1
        self._current = None

    def _check_part(self, reader: Reader, columns: list[str] | None) -> None:
        if reader is not self._first:
            names = [n for n in self.names if n not in self._keys]
            check_part(reader, names, self.numeric_names, self._first_label, columns)

    def _conform(self, batch: TableBatch | ArrayBatch, part: Part, source: str, wanted: list[str] | None) -> TableBatch:
        """The batch with its columns in the first part's order and types, keys appended."""
        assert isinstance(batch, TableBatch)
        rb = batch.rb
        present = set(rb.schema.names)
        order = [n for n in (self.names if wanted is None else wanted) if n in present]
        if order != rb.schema.names:
            rb = rb.select(order)
        if self._keys and (wanted is None or any(k in wanted for k in self._keys)):
            values = dict(part.keys)
            arrays = list(rb.columns)
            fields = list(rb.schema)
            for key in self._keys:
                if wanted is not None and key not in wanted:
                    continue
                v = values.get(key)
                arrays.append(pa.array([v] * rb.num_rows, pa.int64() if isinstance(v, int) else pa.string()))
                fields.append(pa.field(key, arrays[-1].type))
            rb = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
        if wanted is not None:  # only the columns asked for, each checked when it is read
            return TableBatch(rb, source)
        if self._schema is None:
            self._schema = rb.schema
        elif rb.schema != self._schema:
            if rb.schema.names != self._schema.names:
                raise DataError(f"{source} has other columns than {self._first_label}; every part needs the same")
            try:
                rb = rb.cast(self._schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DataError(
                    f"{source}: its columns have other types than in {self._first_label} ({reason})"
                ) from None
        return TableBatch(rb, source)

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        self._first.close()


def check_part(
    reader: Reader, names: list[str], numeric: list[str], first: str, columns: list[str] | None = None
) -> None:
    """A part must have the first part's `names` (or the `columns` read), numeric where they are."""
    present = set(reader.names)
    expected = names if columns is None else columns
    for name in expected:
        if name not in present:
            raise DataError(
                f"{reader.label} has no column {name!r}, which {first} has; "
                "every part of a dataset needs the same columns"
            )
        if name in numeric and name not in reader.numeric_names and name not in getattr(reader, "empty_names", ()):
            raise DataError(f"{reader.label}: column {name!r} holds text, but numbers in {first}; fix that part")
    if columns is None:
        extra = [n for n in reader.names if n not in set(expected)]
        if extra:
            raise DataError(
                f"{reader.label} has a column {extra[0]!r} that {first} lacks; "
                "every part of a dataset needs the same columns"
            )


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# --- directory output -------------------------------------------------------------------------


def is_directory_output(output: str) -> bool:
    """`-o DIR/` (a trailing slash) or an existing directory: one output part per input part."""
    return output != STDIO and (output.endswith(("/", os.sep)) or os.path.isdir(output))


def check_output_directory(output: str, dataset: Dataset, *, overwrite: bool) -> None:
    """Before any work: refuse an existing DIR without `overwrite`, a file in its place, or
    a DIR that holds an input part (replacing it would lose the input)."""
    if "://" in output:
        from normcli.io.fs import check_url_output_directory

        return check_url_output_directory(output, overwrite=overwrite)
    target = os.path.abspath(output.rstrip("/" + os.sep) or output)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise UsageError(f"{output} is a file, not a directory; name another output directory")
    if os.path.isdir(target) and not overwrite:
        raise UsageError.about("{path} exists; add {overwrite} to replace it, or name a new directory", path=output)
    for part in dataset.parts:
        if os.path.abspath(part.path).startswith(target + os.sep):
            raise UsageError(f"{output} holds the input part {part.path}; write the output elsewhere")


@contextlib.contextmanager
def atomic_directory(output: str, *, overwrite: bool) -> Iterator[str]:
    """A temporary folder beside `output`, renamed to `output` when the block succeeds
    (replacing an old `output` only with `overwrite`); on any failure, Ctrl-C included,
    removed, so no partial dataset appears and an old `output` stays as it was. A URL output:
    the same on its filesystem (normcli/io/fs.py says what an object store guarantees)."""
    if "://" in output:
        from normcli.io.fs import atomic_url_directory

        with atomic_url_directory(output, overwrite=overwrite) as folder:
            yield folder
        return
    target = output.rstrip("/" + os.sep) or output
    parent = os.path.dirname(os.path.abspath(target))
    name = os.path.basename(os.path.abspath(target))
    tmp = os.path.join(parent, temp_name(name, parent))
    try:
        os.mkdir(tmp)
    except OSError as exc:
        raise write_error(output, exc) from None
    try:
        yield tmp
        if os.path.isdir(target) and not overwrite:
            raise UsageError.about("{path} exists; add {overwrite} to replace it, or name a new directory", path=output)
        # renamed with the command's other outputs (--stats-json, --plot) when they are
        # staged, else now: an old `output` moves aside and is put back if the rename fails
        with staged_outputs():
            stage_directory(tmp, target, output)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise write_error(output, exc) from None
        raise


def output_part_name(relpath: str, fmt: str) -> str:
    """The output part's name: the input part's, with the extension of `fmt` if it differs."""
    stem, ext = os.path.splitext(compression_suffix(relpath)[0])  # part.csv.gz -> part.csv (written plain)
    if _EXTENSIONS.get(ext.lower()) == fmt:
        return stem + ext
    return stem + "." + fmt


@contextlib.contextmanager
def open_part_writer(root: str, relpath: str, fmt: str, output: str) -> Iterator[Writer]:
    """A writer for the part `relpath` inside the temporary output folder `root` (which is
    atomic as a whole)."""
    if "://" in root:
        with open_url_part_writer(root, relpath, fmt, output) as url_writer:
            yield url_writer
        return
    path = os.path.join(root, relpath)
    try:
        if not os.path.isdir(root):  # the run failed and removed its folder: write nothing more
            raise DataError(f"cannot write {output}: the run was stopped")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        writer: Writer = ParquetWriter(path) if fmt == "parquet" else CsvWriter(path, "\t" if fmt == "tsv" else ",")
    except OSError as exc:
        raise write_error(output, exc) from None
    try:
        yield writer
    finally:
        writer.close()


@contextlib.contextmanager
def open_url_part_writer(root: str, relpath: str, fmt: str, output: str) -> Iterator[Any]:
    """A writer of the part `relpath`: a local temporary file, uploaded to `root`/`relpath`
    (on the output's filesystem) when it is complete."""
    from normcli.io.fs import filesystem
    from normcli.io.writers import CsvWriter, ParquetWriter

    fs, base = filesystem(root)
    with tempfile.TemporaryDirectory(prefix="normcli-part-") as local:
        path = os.path.join(local, "part." + fmt)
        writer = ParquetWriter(path) if fmt == "parquet" else CsvWriter(path, "\t" if fmt == "tsv" else ",")
        try:
            yield writer
        finally:
            writer.close()
        if not fs.exists(base):  # the run failed and removed its folder: write nothing more
            raise DataError(f"cannot write {output}: the run was stopped")
        try:
            target = f"{base.rstrip('/')}/{relpath}"
            parent = target.rpartition("/")[0]
            if parent:
                fs.makedirs(parent, exist_ok=True)
            fs.put_file(path, target)
        except OSError as exc:
            raise DataError(f"cannot write {output}: {exc}") from None
