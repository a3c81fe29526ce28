"""Untrusted text (column names, paths, values and messages quoting them) made safe to show.

Such text comes from the user's files and arguments, so it may hold anything: terminal escape
sequences (ESC [2J clears the screen), line breaks that would split a one-line error, bidi
overrides that reorder what is shown, bytes that were not UTF-8 (lone surrogates, which cannot
even be encoded for the terminal). `visible` shows every such character the way Python's repr
does, so what reaches the terminal is exactly what is in the data, one line, nothing executed.
Rich markup and emoji codes are a matter of the console (report.console() never parses them).

Pure Python, no imports beyond the standard library: the CLI's error printing uses it too.
"""

from __future__ import annotations

__all__ = ["visible"]


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return repr(ch)[1:-1]


def visible(text: str) -> str:
    """`text` with every character that is not printable (controls, line and paragraph
    separators, format characters such as bidi overrides, lone surrogates) written as its
    escape (`\\x1b`, `\\n`, `\\u202e`, `\\xff` for an undecodable byte); printable text, spaces
    and backslashes as they are."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)
