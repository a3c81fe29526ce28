"""Tasks smaller than a file, for the Dask engine's fit and stats.

A large part is cut into pieces, each one task: a Parquet file into runs of whole row groups
(a few small ones per task), an uncompressed CSV into byte ranges that begin and end on row
boundaries, as dask.dataframe.read_csv's `blocksize` does (a range [a, b) is widened to start
after the first line break at or after a, and to end after the first at or after b, so every
row belongs to exactly one range). The client finds the boundaries (a short read at each cut)
and the pieces are merged in part order, then piece order, so a fit still equals the fit over
the concatenation.

A line break inside a quoted value would make such a cut wrong, and telling one from a row's
end needs the quoting state of everything before it: a CSV holding the quote character at all
is therefore kept whole (quotes in the header line alone are fine when they pair up), as
is a compressed one (it cannot be entered in the middle).

Transform keeps one task per part: each input part gives one output part, written by the
worker that read it, without data passing through the client.

The target size of a task: NORMCLI_TASK_BYTES (bytes of uncompressed data, default 64 MiB).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from normcli.errors import DataError
from normcli.io.dataset import Part
from normcli.io.parquet_reader import ParquetReader, parquet_error
from normcli.io.readers import Reader

__all__ = ["TASK_BYTES_ENV", "Piece", "open_piece", "split_parts", "task_bytes"]

TASK_BYTES_ENV = "NORMCLI_TASK_BYTES"
DEFAULT_TASK_BYTES = 64 << 20
_SEEK_WINDOW = 1 << 16  # bytes read at a time when looking for the next line break
_SCAN_BYTES = 8 << 20
# compressed or UTF-16 text cannot be entered in the middle
_WHOLE_MAGIC = (b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ", b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Piece:
    """One task's share of a part: all of it, some of its row groups, or a byte range of
    its rows (`header` bytes long header first, then bytes start..stop)."""

    part: Part
    row_groups: tuple[int, ...] | None = None
    start: int = 0
    stop: int = -1
    header: int = 0
    size: int = 0  # bytes, for progress

    @property
    def whole(self) -> bool:
        return self.row_groups is None and self.stop < 0

    @property
    def label(self) -> str:
        if self.row_groups is not None:
            first, last = self.row_groups[0] + 1, self.row_groups[-1] + 1
            groups = f"row groups {first}-{last}" if last > first else f"row group {first}"
            return f"{self.part.label} ({groups})"
        if self.stop >= 0:
            return f"{self.part.label} (bytes {self.start}-{self.stop})"
        return self.part.label


def task_bytes() -> int:
    """The target size of a task, from NORMCLI_TASK_BYTES (a positive integer)."""
    text = os.environ.get(TASK_BYTES_ENV, "")
    if not text:
        return DEFAULT_TASK_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        from normcli.errors import UsageError

        raise UsageError(f"{TASK_BYTES_ENV}={text!r} is not a positive number of bytes; unset it or give e.g. 67108864")
    return value


def split_parts(parts: Iterable[Part], fmt: str, target: int | None = None) -> list[Piece]:
    """The pieces of `parts` (of format `fmt`), in part order and, within a part, in row order."""
    target = task_bytes() if target is None else target
    pieces: list[Piece] = []
    for part in parts:
        if "://" in part.path:  # a URL part: one task (its size is the filesystem's to tell)
            pieces.append(Piece(part))
        elif fmt == "parquet":
            pieces.extend(_parquet_pieces(part, target))
        else:
            pieces.extend(_csv_pieces(part, target))
    return pieces


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _parquet_pieces(part: Part, target: int) -> list[Piece]:
    """Runs of consecutive row groups of about `target` uncompressed bytes each."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = _size(part.path)
    try:
        meta = pq.ParquetFile(part.path).metadata
    except (pa.ArrowException, OSError):  # the task reads it, and says what is wrong with it
        return [Piece(part, size=size)]
    if meta.num_row_groups <= 1:
        return [Piece(part, size=size)]
    runs: list[list[int]] = [[]]
    filled = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g).total_byte_size
        if runs[-1] and filled + group > target:
            runs.append([])
            filled = 0
        runs[-1].append(g)
        filled += group
    if len(runs) == 1:
        return [Piece(part, size=size)]
    total = sum(meta.row_group(g).num_rows for g in range(meta.num_row_groups)) or 1
    return [
        Piece(part, row_groups=tuple(run), size=size * sum(meta.row_group(g).num_rows for g in run) // total)
        for run in runs
    ]


def _csv_pieces(part: Part, target: int) -> list[Piece]:
    """Byte ranges on row boundaries, or the whole part when it cannot be cut safely."""
    size = _size(part.path)
    whole = [Piece(part, size=size)]
    if size <= target:
        return whole
    from normcli.io.formats import compression_suffix

    if compression_suffix(part.path)[1]:
        return whole
    try:
        with open(part.path, "rb") as fh:
            if fh.read(8).startswith(_WHOLE_MAGIC):
                return whole
            header = _next_row(fh, 0)
            fh.seek(0)
            # a quoted header ("a","b", as pyarrow writes it) is fine when its quotes pair up on
            # its line; a quote anywhere in the rows keeps the file whole
            if header >= size or fh.read(header).count(b'"') % 2 or _holds_quote(fh, header):
                return whole
            cuts = [header]
            while cuts[-1] + target < size:
                cut = _next_row(fh, cuts[-1] + target)
                if cut >= size:
                    break
                cuts.append(cut)
    except OSError:
        return whole  # the task reads it and reports the error
    if len(cuts) == 1:
        return whole
    bounds = [*cuts, size]
    return [Piece(part, start=a, stop=b, header=header, size=b - a) for a, b in zip(bounds, bounds[1:], strict=False)]


def _holds_quote(fh: Any, start: int) -> bool:
    """Whether the file holds a double quote after `start` (a quoted value may hold a line break)."""
    fh.seek(start)
    while chunk := fh.read(_SCAN_BYTES):
        if b'"' in chunk:
            return True
    return False


def _next_row(fh: Any, offset: int) -> int:
    """The offset just after the first line break at or after `offset` (the file's size if none)."""
    fh.seek(offset)
    position = offset
    while chunk := fh.read(_SEEK_WINDOW):
        i = chunk.find(b"\n")
        if i >= 0:
            return position + i + 1
        position += len(chunk)
    return position


# --- on the workers ------------------------------------------------------------------------------


class _RowGroupReader(ParquetReader):
    """A Parquet part's reader limited to some of its row groups."""

    def __init__(self, path: str, row_groups: tuple[int, ...]) -> None:
        super().__init__(path)
        self._groups = list(row_groups)

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[Any]:
        import pyarrow as pa

        from normcli.io.batch import TableBatch

        cols = list(columns) if columns is not None else None
        meta = self._file.metadata
        total_rows = max(sum(meta.row_group(g).num_rows for g in self._groups), 1)
        done = 0
        try:
            for rb in self._file.iter_batches(batch_size=self.batch_rows(cols), row_groups=self._groups, columns=cols):
                done += rb.num_rows
                self.bytes_read = int(self.total_bytes * done / total_rows) if self.total_bytes else 0
                yield TableBatch(rb, self.label)
        except (pa.ArrowException, OSError) as exc:
            raise parquet_error(self.label, exc) from None
        finally:
            self.close()


class _RangeReader:
    """A CSV byte range read as a small CSV of its own: the header, then the range, copied
    into a temporary file on the worker (removed when the reader closes)."""

    def __init__(self, piece: Piece, fmt: str, options: dict[str, Any]) -> None:
        from normcli.io.readers import open_reader

        suffix = ".tsv" if fmt == "tsv" else ".csv"
        self._tmp = tempfile.NamedTemporaryFile(prefix="normcli-piece-", suffix=suffix)  # noqa: SIM115
        try:
            with open(piece.part.path, "rb") as src:
                self._tmp.write(src.read(piece.header))
                src.seek(piece.start)
                left = piece.stop - piece.start
                while left > 0:
                    chunk = src.read(min(left, _SCAN_BYTES))
                    if not chunk:
                        break
                    self._tmp.write(chunk)
                    left -= len(chunk)
            self._tmp.flush()
        except OSError as exc:
            self._tmp.close()
            raise DataError(f"{piece.label}: {exc.strerror or exc}") from None
        self.reader = open_reader(self._tmp.name, fmt, **options)
        self.reader.label = piece.label

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self._tmp.close()


def open_piece(piece: Piece, fmt: str, options: dict[str, Any]) -> tuple[Reader, Any]:
    """The piece's reader (named as the piece in messages) and what to close after it."""
    from normcli.io.readers import open_reader

    if piece.row_groups is not None:
        reader: Reader = _RowGroupReader(piece.part.path, piece.row_groups)
        reader.label = piece.label
        return reader, reader
    if piece.stop >= 0:
        ranged = _RangeReader(piece, fmt, options)
        return ranged.reader, ranged
    reader = open_reader(piece.part.path, fmt, **options)
    reader.label = piece.part.label
    return reader, reader


# --- stats: a profile per piece, merged in order ---------------------------------------------------


def profile_task(piece: Piece, fmt: str, key_names: list[str], file_names: list[str], numeric: list[str],
                 first: str, names: list[str], reader_options: dict[str, Any] | None = None,
                 ) -> dict[str, Any]:  # fmt: skip
    """The `stats` profiles of the columns `names` (hive keys included) over one piece."""
    from normcli.io.dataset import Dataset, DatasetReader, check_part
    from normcli.pipeline import profile_stream

    reader, closer = open_piece(piece, fmt, reader_options or {})
    try:
        wanted = [n for n in names if n not in key_names]
        check_part(reader, file_names, numeric, first, wanted)
        one = Dataset([piece.part], fmt, piece.label, key_names)
        with DatasetReader(one, lambda _: reader) as joined:
            return profile_stream(joined, names)
    finally:
        closer.close()


def merge_profiles(partials: list[dict[str, Any]]) -> dict[str, Any]:
    """The profiles of the pieces as one, merged in piece order."""
    from normcli.profile import NumericProfile, ValueProfile

    total: dict[str, Any] = {}
    for partial in partials:
        for name, p in partial.items():
            have = total.get(name)
            if have is None:
                total[name] = p
            elif isinstance(have, NumericProfile) and isinstance(p, NumericProfile):
                have.stats = have.stats.merge(p.stats)
                have.sketch = have.sketch.merge(p.sketch)
                have.histogram = have.histogram.merge(p.histogram)
            elif isinstance(have, ValueProfile) and isinstance(p, ValueProfile):
                have.nulls += p.nulls
                have.counts = have.counts.merge(p.counts)
                if have.ordered:
                    have.min = p.min if have.min is None else have.min if p.min is None else min(have.min, p.min)
                    have.max = p.max if have.max is None else have.max if p.max is None else max(have.max, p.max)
            else:
                raise DataError(f"column {name!r} holds numbers in one part and text in another; fix the parts")
    return total
