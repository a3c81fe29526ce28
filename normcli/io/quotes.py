"""Find a quote that opens a CSV value and is never closed.

pyarrow's CSV reader, allowed newlines in quoted values, reads an unclosed quote as one
value running to the end of the input: every row after it is swallowed into a single
field, without an error. `QuoteScanner` follows the quoting state through the whole input
(fed in chunks, in order) with the same rules the parser uses (RFC 4180: a quote opens a
value only at the start of a field; inside one, a doubled quote is a quote and a single one
closes it; elsewhere a quote is an ordinary character), and says where the quote that is
still open at the end of the input began.

It looks at the quote characters only: a chunk without one costs a search for one, and
quotes are followed with NumPy on the usual assumption that they come in pairs (checked for
every quote), or with a plain loop for a chunk where that fails (a quote inside an unquoted
value, such as 5'11"). Trailing quotes of a chunk wait for the next: a doubled quote may
be split between two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OpenQuote", "QuoteScanner", "scan_file"]

SCAN_BYTES = 8 << 20


@dataclass(frozen=True)
class OpenQuote:
    """A quote still open at the end of the input: its byte offset, its line (1-based)
    and the start of that line, up to the quote and a little beyond."""

    offset: int
    line: int
    text: str


class QuoteScanner:
    """Feed the input's bytes in order; `finish` says which quote is left open, if any."""

    def __init__(self, delimiter: str = ",", quote: str = '"', count_lines: bool = True) -> None:
        self._q = ord(quote)
        self._quote = quote.encode()
        self._count_lines = count_lines  # else OpenQuote.line is 0 (scan_file counts them itself)
        self._starts = np.zeros(257, dtype=bool)  # bytes after which a field starts; index 256: start of input
        for b in delimiter.encode() + b"\n\r":
            self._starts[b] = True
        self._starts[256] = True
        self._offset = 0  # where the pending bytes start in the input
        self._lines = 0  # line breaks before them
        self._last = 256  # the byte before them (256: none)
        self._carry = b""  # trailing quotes held back: what follows them decides what they are
        self._in_quote = False
        self._open: OpenQuote | None = None

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        if not self._carry and isinstance(chunk, bytes | bytearray) and chunk.find(self._quote) < 0:
            if chunk:  # the common chunk: no quote at all, nothing to copy
                self._lines += chunk.count(b"\n") if self._count_lines else 0
                self._last = chunk[-1]
                self._offset += len(chunk)
            return
        data = self._carry + chunk if self._carry else chunk
        keep = len(data)
        while keep and data[keep - 1] == self._q:
            keep -= 1
        self._carry = bytes(data[keep:])
        self._process(data, keep, final=False)

    def finish(self) -> OpenQuote | None:
        """The quote still open at the end of the input, or None."""
        self._process(self._carry, len(self._carry), final=True)
        self._carry = b""
        return self._open if self._in_quote else None

    def _process(self, data: bytes | bytearray | memoryview, size: int, final: bool) -> None:
        """Follow the quotes of data[:size]."""
        if not size:
            return
        buf = np.frombuffer(data, dtype=np.uint8, count=size)
        if (buf == self._q).any():
            self._scan(buf, final)
        self._lines += int(np.count_nonzero(buf == 10)) if self._count_lines else 0
        self._last = int(buf[-1])
        self._offset += size

    def _scan(self, buf: np.ndarray, final: bool) -> None:
        q = np.flatnonzero(buf == self._q)
        before = buf[np.maximum(q - 1, 0)].astype(np.int16)
        if q[0] == 0:
            before[0] = self._last
        at_start = self._starts[before]
        adjacent = np.zeros(q.size, dtype=bool)  # right after another quote: the second of a pair
        adjacent[1:] = q[1:] == q[:-1] + 1
        # Assume the quotes pair up: each toggles the state, and one that opens a value must
        # be at a field start or double the quote before it. Checked for every quote; a
        # quote that breaks it (5'11" in an unquoted value) sends the chunk to the loop.
        opening = np.arange(q.size) % 2 == (1 if self._in_quote else 0)
        if not final and (at_start | adjacent)[opening].all():
            if q.size % 2:
                self._in_quote = not self._in_quote
            true_opens = np.flatnonzero(opening & ~adjacent)
            if self._in_quote and true_opens.size:
                self._record_open(int(q[true_opens[-1]]), buf)
            return
        i, n, opened = 0, q.size, -1
        while i < n:
            if not self._in_quote:
                if at_start[i]:
                    self._in_quote = True
                    opened = i
                i += 1
            elif i + 1 < n and q[i + 1] == q[i] + 1:
                i += 2  # a doubled quote inside the value
            else:
                self._in_quote = False
                i += 1
        if self._in_quote and opened >= 0:
            self._record_open(int(q[opened]), buf)

    def _record_open(self, at: int, buf: np.ndarray) -> None:
        breaks = np.flatnonzero(buf[:at] == 10)
        line_start = int(breaks[-1]) + 1 if breaks.size else 0
        line = self._lines + breaks.size + 1 if self._count_lines else 0
        text = buf[line_start : at + 30].tobytes().split(b"\n")[0].decode("utf-8", "replace")
        self._open = OpenQuote(self._offset + at, line, text)


def scan_file(path: str, delimiter: str = ",", quote: str = '"') -> OpenQuote | None:
    """The quote left open at the end of the file at `path`, or None. Lines are counted
    only when there is one to report."""
    scanner = QuoteScanner(delimiter, quote, count_lines=False)
    buf = bytearray(SCAN_BYTES)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            scanner.feed(buf if n == len(buf) else bytes(buf[:n]))
    found = scanner.finish()
    if found is None:
        return None
    lines = 0
    with open(path, "rb", buffering=0) as fh:
        done = 0
        while done < found.offset and (n := fh.readinto(buf)):
            lines += buf.count(b"\n", 0, min(n, found.offset - done))
            done += n
    return OpenQuote(found.offset, lines + 1, found.text)
