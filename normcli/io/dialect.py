"""CSV dialects: how a text table is laid out (delimiter, header, missing-value tokens,
encoding, decimal mark, comment lines, rows to skip, compression), and the pyarrow options
that read it.

`DialectOptions` is what the user said (None: not said); `sniff_dialect` fills in the rest
from the head of the input and gives a `Dialect`, which the CSV reader follows. pyarrow is
imported inside the functions that build its options, so this module loads cheaply.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from normcli.errors import DataError

__all__ = [
    "DEFAULT_NA_VALUES",
    "Dialect",
    "DialectOptions",
    "parse_comment",
    "parse_decimal",
    "parse_delimiter",
    "parse_encoding",
    "parse_names",
    "parse_na_values",
    "sniff_dialect",
]

# pyarrow's tokens, plus those pandas also reads as missing (None, ?)
DEFAULT_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "n/a",
    "nan",
    "null",
    "None",
    "none",
    "?",
)
CANDIDATES = (",", "\t", ";", "|")
SPACES = "spaces"  # what --delimiter calls a run of spaces
SNIFF_CHARS = 64 << 10  # the delimiter and decimal mark are read from this much of the head
SNIFF_RECORDS = 200
_DELIMITER_WORDS = {"\\t": "\t", "tab": "\t", "space": " ", "spaces": SPACES, "whitespace": SPACES}
_COMMA_NUMBER = re.compile(r"[+-]?\d+,\d+(?:[eE][+-]?\d+)?")
_THOUSANDS_LIKE = re.compile(r"[+-]?\d{1,3},\d{3}")
_DOT_NUMBER = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?")


# --- option values: each parser returns the value or raises ValueError saying why ------------


def parse_delimiter(value: str) -> str:
    """One character (`\\t`, `tab`, `space` spelled out), or `spaces` for runs of spaces."""
    value = _DELIMITER_WORDS.get(value.lower(), value) if len(value) > 1 else value
    if value == SPACES:
        return value
    if len(value) != 1:
        raise ValueError(f"must be one character (or \\t, tab, space, spaces), not {value!r}")
    if value in '"\r\n':
        raise ValueError(f"cannot be {value!r}")
    return value


def parse_encoding(value: str) -> str:
    """A text encoding Python knows, by its canonical name (latin-1 is 'iso8859-1')."""
    try:
        info = codecs.lookup(value)
    except LookupError:
        raise ValueError(f"{value!r} is not a known text encoding (e.g. utf-8, latin-1, cp1252, utf-16)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{value!r} is not a text encoding")
    return "utf-8" if info.name in ("utf-8", "utf-8-sig") else info.name


def parse_decimal(value: str) -> str:
    if value not in (".", ","):
        raise ValueError(f"must be '.' or ',', not {value!r}")
    return value


def parse_comment(value: str) -> str:
    if len(value) != 1 or value in '"\r\n':
        raise ValueError(f"must be one character other than a quote or a line break, not {value!r}")
    return value


def parse_names(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(","))
    if not all(names):
        raise ValueError(f"{value!r} has an empty name")
    repeated = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    if repeated:
        raise ValueError(f"names {repeated[0]!r} twice")
    return names


def parse_na_values(value: str) -> tuple[str, ...]:
    """Comma-separated tokens read as missing, on top of the defaults."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


# --- what the user said ------------------------------------------------------------------------


@dataclass(frozen=True)
class DialectOptions:
    """The dialect as the user gave it; None where they said nothing (sniff or default)."""

    delimiter: str | None = None
    header: bool | None = None
    names: tuple[str, ...] | None = None
    na_values: tuple[str, ...] | None = None
    encoding: str | None = None
    decimal: str | None = None
    comment: str | None = None
    skip_rows: int | None = None

    def given(self) -> dict[str, Any]:
        """The options that were given, as JSON values (for the scaler file)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def or_else(self, other: DialectOptions) -> DialectOptions:
        """These options, with `other`'s where these say nothing."""
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(self) if getattr(self, f.name) is None})

    @classmethod
    def from_dict(cls, data: Any) -> DialectOptions:
        """Options read back from a scaler file; ValueError says which value is wrong."""
        if not isinstance(data, dict):
            raise ValueError("must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"has unknown key(s) {unknown}")
        parsers = {
            "delimiter": parse_delimiter,
            "encoding": parse_encoding,
            "decimal": parse_decimal,
            "comment": parse_comment,
        }
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in parsers:
                if not isinstance(value, str):
                    raise ValueError(f"{key} must be a string")
                try:
                    out[key] = parsers[key](value)
                except ValueError as exc:
                    raise ValueError(f"{key} {exc}") from None
            elif key == "header":
                if not isinstance(value, bool):
                    raise ValueError("header must be true or false")
                out[key] = value
            elif key == "skip_rows":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError("skip_rows must be a whole number >= 0")
                out[key] = value
            else:  # names, na_values
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{key} must be a list of strings")
                out[key] = parse_names(",".join(value)) if key == "names" else tuple(value)
        return cls(**out)


# --- the dialect a reader follows -----------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How a CSV input is read. `delimiter` is one character, or `spaces` for runs of spaces
    (collapsed to one before parsing). `names` are the column names when the input has no
    header (or when they replace it). `is_plain` says whether the input is today's plain
    case: comma- or tab-separated UTF-8 text with a header, default tokens, no compression."""

    delimiter: str = ","
    header: bool = True
    names: tuple[str, ...] | None = None
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES
    encoding: str = "utf-8"
    decimal: str = "."
    comment: str | None = None
    skip_rows: int = 0
    compression: str | None = None

    @property
    def is_plain(self) -> bool:
        return self == Dialect(delimiter=self.delimiter) and self.delimiter in (",", "\t")

    @property
    def spaces(self) -> bool:
        return self.delimiter == SPACES

    @property
    def needs_filter(self) -> bool:
        """Whether the bytes must pass through Python before pyarrow parses them."""
        return self.encoding != "utf-8" or self.comment is not None or self.spaces or self.compression == "xz"

    def describe(self) -> str:
        """The sniffed or given choices that differ from plain CSV, for messages."""
        parts = []
        if self.delimiter != ",":
            parts.append("runs of spaces" if self.spaces else f"{self.delimiter!r}-separated")
        if self.decimal != ".":
            parts.append(f"decimal {self.decimal!r}")
        if self.encoding != "utf-8":
            parts.append(self.encoding)
        return ", ".join(parts)

    def parse_options(self) -> Any:
        import pyarrow.csv as pacsv

        # Quoted values may span lines (as RFC 4180 allows); measured at no cost in speed.
        return pacsv.ParseOptions(delimiter=" " if self.spaces else self.delimiter, newlines_in_values=True)

    def read_options(self, block_size: int) -> Any:
        import pyarrow.csv as pacsv

        skip = self.skip_rows + (1 if self.header and self.names is not None else 0)
        names = list(self.names) if self.names is not None else None
        return pacsv.ReadOptions(block_size=block_size, skip_rows=skip, column_names=names)

    def convert_options(self, **kwargs: Any) -> Any:
        import pyarrow.csv as pacsv

        return pacsv.ConvertOptions(null_values=list(self.na_values), decimal_point=self.decimal, **kwargs)


def sniff_dialect(
    text: str, options: DialectOptions, *, default_delimiter: str, compression: str | None, encoding: str, source: str
) -> Dialect:
    """The dialect of an input whose head decodes to `text` (comment lines already dropped):
    the options given, the rest sniffed."""
    start = 0
    for _ in range(options.skip_rows or 0):
        start = text.find("\n", start) + 1
        if not start:
            start = len(text)
            break
    body = text[start:].lstrip("\ufeff")
    whole = len(body) < SNIFF_CHARS
    body = body[:SNIFF_CHARS]
    if not whole and "\n" in body:
        body = body[: body.rindex("\n") + 1]  # whole lines only
    delimiter = options.delimiter or _sniff_delimiter(body, default_delimiter, options.decimal == ",")
    rows = _records(body, delimiter)
    header = True if options.header is None else options.header
    decimal = options.decimal or _sniff_decimal(rows[1:] if header else rows, delimiter)
    names = options.names
    width = len(rows[0]) if rows else 0
    if names is not None and rows and len(names) != width:
        raise DataError(f"{source} has {width} column(s) but the names given are {len(names)}: {', '.join(names)}")
    if not header and names is None:
        names = tuple(str(i) for i in range(width))
    na_values = DEFAULT_NA_VALUES + tuple(v for v in options.na_values or () if v not in DEFAULT_NA_VALUES)
    return Dialect(
        delimiter=delimiter,
        header=header,
        names=names,
        na_values=na_values,
        encoding=encoding,
        decimal=decimal,
        comment=options.comment,
        skip_rows=options.skip_rows or 0,
        compression=compression,
    )


def _records(text: str, delimiter: str) -> list[list[str]]:
    """The first records of `text` split at `delimiter` (quotes respected), blank lines left out."""
    if delimiter == SPACES:  # as SpaceCollapser will give them to the parser: runs as one, ends trimmed
        lines = (line.replace("\t", " ").strip(" ") for line in text.splitlines())
        reader = csv.reader(lines, delimiter=" ", skipinitialspace=True)
    else:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return [r for r in itertools.islice(reader, SNIFF_RECORDS) if r]
    except csv.Error:  # a NUL byte or the like: pyarrow will say what is wrong
        return []


def _agrees(rows: list[list[str]]) -> bool:
    """More than one column, and nine rows in ten as wide as the first."""
    if not rows or len(rows[0]) < 2:
        return False
    return sum(len(r) == len(rows[0]) for r in rows) >= 0.9 * len(rows)


def _sniff_delimiter(text: str, default: str, decimal_comma: bool = False) -> str:
    """The candidate that splits the rows into the most columns, as many in each row;
    the format's own delimiter wins a tie. Spaces only when no other character works.
    With decimal commas the comma is not a candidate."""
    order = tuple(c for c in (default, *CANDIDATES) if not (decimal_comma and c == ","))
    order = tuple(dict.fromkeys(order))
    best, width = default, 1
    for candidate in order:
        rows = _records(text, candidate)
        if _agrees(rows) and len(rows[0]) > width:
            best, width = candidate, len(rows[0])
    if width > 1:
        return best
    # a run of spaces would be read as empty fields between single spaces: runs first where there are any
    for candidate in (SPACES, " ") if "  " in text else (" ", SPACES):
        if _agrees(_records(text, candidate)):
            return candidate
    # The rows disagree (a ragged row, or a header with no rows to match). A header that one
    # candidate splits is read with it, so the parser names the first row that does not fit
    # (and the message says which delimiter was used); a header no candidate splits is one column.
    first = next((line for line in text.splitlines() if line.strip()), "")
    widths = {c: len(rows[0]) for c in order if (rows := _records(first, c))}
    splitting = [c for c in order if widths.get(c, 1) > 1]
    return max(splitting, key=lambda c: widths[c]) if splitting else default


def _sniff_decimal(rows: list[list[str]], delimiter: str) -> str:
    """',' when the values hold decimal commas and no decimal points (the delimiter not a
    comma), and at least one cannot be a thousands separator (`2,5`, not `1,000`)."""
    if delimiter == ",":
        return "."
    comma = dot = unambiguous = False
    for row in rows:
        for field in row:
            field = field.strip()
            if _COMMA_NUMBER.fullmatch(field):
                comma = True
                unambiguous = unambiguous or not _THOUSANDS_LIKE.fullmatch(field)
            elif _DOT_NUMBER.fullmatch(field):
                dot = True
    return "," if comma and unambiguous and not dot else "."
