"""Column lists as users type them: `--columns 'temp_*' --columns 'price,rooms'`.

Each value of a repeatable option is a comma-separated list; a value that is exactly a column
name is taken whole (so `--columns 'price, EUR'` works when that is a column), and `\\,` is a
comma inside a name. An item is a shell-style glob (`*`, `?`, `[...]`) unless it is exactly a
column name. Pure Python: no I/O.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence

from normcli.errors import UsageError

__all__ = ["expand_columns", "split_list"]

_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_GLOB = re.compile(r"[*?\[]")


def split_list(value: str, option: str) -> list[str]:
    """Items of one option value: split at commas not preceded by a backslash."""
    items = [item.replace("\\,", ",").strip() for item in _UNESCAPED_COMMA.split(value)]
    if not all(items):
        raise UsageError(f"{option} {value!r} has an empty name; separate names with single commas")
    return items


def expand_columns(
    values: Sequence[str] | None, available: Sequence[str], option: str, source: str
) -> list[str] | None:
    """The columns that `values` (the option given 0 or more times) name, in the order given,
    each once; None when the option was not given."""
    if not values:
        return None
    present = set(available)
    out: dict[str, None] = {}
    for value in values:
        items = [value] if value in present else split_list(value, option)
        for item in items:
            out.update(dict.fromkeys(_match(item, available, present, option, source)))
    return list(out)


def _match(item: str, available: Sequence[str], present: set[str], option: str, source: str) -> Iterable[str]:
    if item in present:
        return [item]
    if _GLOB.search(item):
        matched = [name for name in available if fnmatch.fnmatchcase(name, item)]
        if not matched:
            raise UsageError(f"{option} pattern {item!r} matches no column of {source}")
        return matched
    raise UsageError(f"{option} names column {item!r}, which {source} does not have")
