"""The interface every reader offers the pipeline: a file (or stdin) as named columns in batches;
and what the table readers (CSV, Parquet) share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from normcli.errors import DataError
from normcli.io.batch import ArrayBatch, TableBatch
from normcli.layout import Layout

__all__ = ["Reader", "TableReader"]


class Reader:
    """What every reader offers: its columns, which are numeric, how the input is laid out,
    and its batches (`batches()` may be called once)."""

    label: str
    format: str
    names: list[str]
    numeric_names: list[str]
    layout: Layout
    # columns with no value in the head their types were read from (a CSV): named by the
    # user they are read as numbers, otherwise left alone like text
    empty_names: Sequence[str] = ()
    input_types: dict[str, str | None] = {}  # the input type of each column (int64, float32, ...) where known
    notes: list[str] = []  # things about the input worth a warning (a header that looks like data)
    shape: tuple[int, ...] | None = None  # an array input's shape; None for a table
    total_bytes: int | None = None
    bytes_read: int = 0

    def batches(self, columns: Iterable[str] | None = None) -> Iterator[TableBatch | ArrayBatch]:
        """The input in batches; with `columns`, a table reader may leave the others out."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the input; safe to call twice. Used as a context manager, a reader is
        closed also when the command fails before reading (a bad option, say)."""

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TableReader(Reader):
    layout = Layout.table()


def _is_url(path: str) -> bool:
    if "://" not in path:
        return False
    from normcli.io.fs import is_url

    return is_url(path)


def _check_names(names: list[str], source: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(f"{source} has two columns named {name!r}; rename one")
        seen.add(name)
