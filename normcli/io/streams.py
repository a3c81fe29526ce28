"""Byte streams in front of the CSV parser and behind the CSV writer: decompression
(gzip, bz2, zstd, xz), transcoding to UTF-8, comment lines and runs of spaces; and
compressing output sinks. Everything streams: a block in, a block out.

gzip, bz2 and zstd go through pyarrow's native codecs; xz through the standard library's
lzma, which pyarrow lacks as a stream.
"""

from __future__ import annotations

import codecs
import gzip
import io
import lzma
import re
from typing import Any, BinaryIO

from normcli.errors import DataError

__all__ = [
    "MAGIC",
    "CommentFilter",
    "Compressor",
    "SpaceCollapser",
    "Transcoder",
    "compression_of",
    "decompressed",
    "read_exactly",
    "sniff_bom",
]

# leading bytes of each compressed format; the longest is six bytes
MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\x28\xb5\x2f\xfd": "zstd", b"\xfd7zXZ\x00": "xz"}
MAGIC_BYTES = 6
_PYARROW_CODECS = {"gzip": "gzip", "bz2": "bz2", "zstd": "zstd"}
CHUNK = 1 << 20


def compression_of(head: bytes) -> str | None:
    """The compression whose magic bytes `head` starts with, or None."""
    return next((codec for magic, codec in MAGIC.items() if head.startswith(magic)), None)


def read_exactly(stream: Any, n: int) -> bytes:
    """`n` bytes, or fewer only at the end of the input (a raw stream may return less)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(bytes(part))
        got += len(part)
    return b"".join(parts)


def sniff_bom(head: bytes) -> str | None:
    """The encoding a byte order mark at the start of `head` announces (UTF-8's needs none)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return None


def decompressed(stream: Any, codec: str, source: str) -> Any:
    """A readable stream of the decompressed bytes of `stream`. From a Python binary stream,
    a damaged input fails on read with a DataError naming `source`; from a pyarrow file
    (gzip, bz2, zstd), the stream stays native for pyarrow's reader threads, and a damaged
    input raises OSError, which the reader names."""
    if codec == "xz":
        return _Guarded(lzma.LZMAFile(stream), codec, source)
    import pyarrow as pa

    if isinstance(stream, pa.NativeFile):
        return pa.CompressedInputStream(stream, _PYARROW_CODECS[codec])
    return _Guarded(pa.CompressedInputStream(pa.PythonFile(stream, mode="r"), _PYARROW_CODECS[codec]), codec, source)


class _Chunked(io.RawIOBase):
    """A raw stream whose bytes come from `_next_chunk()` (b'' at the end)."""

    def __init__(self) -> None:
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        raise NotImplementedError

    def readinto(self, buf: Any) -> int:
        while not self._pending.nbytes:
            chunk = self._next_chunk()
            if not chunk:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buf), self._pending.nbytes)
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _Guarded(_Chunked):
    """A decompressing stream whose failures (a truncated or damaged file) become DataErrors."""

    def __init__(self, inner: Any, codec: str, source: str) -> None:
        super().__init__()
        self._inner, self._codec, self._source = inner, codec, source

    def _next_chunk(self) -> bytes:
        try:
            return bytes(self._inner.read(CHUNK))
        except (OSError, EOFError, lzma.LZMAError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"{self._source} is not a readable {self._codec} stream ({reason})") from None

    def close(self) -> None:
        self._inner.close()
        super().close()


class Transcoder(_Chunked):
    """Text in `encoding` as UTF-8, decoded a block at a time (a character split between
    blocks waits for the next one)."""

    def __init__(self, inner: Any, encoding: str, source: str) -> None:
        super().__init__()
        self._inner, self._encoding, self._source = inner, encoding, source
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._offset = 0
        self._done = False

    def _next_chunk(self) -> bytes:
        while not self._done:
            raw = self._inner.read(CHUNK)
            self._done = not raw
            try:
                text = self._decoder.decode(bytes(raw), final=self._done)
            except UnicodeDecodeError as exc:
                at = self._offset + exc.start
                raise DataError(
                    f"{self._source} is not valid {self._encoding} text (byte {at:,} after decompression); "
                    "give its encoding with --encoding"
                ) from None
            self._offset += len(raw)
            if text:
                return text.encode("utf-8")
        return b""

    def close(self) -> None:
        self._inner.close()
        super().close()


class _LineFilter(_Chunked):
    """Whole lines of `inner`, rewritten by `_rewrite` (a partial line waits for its end)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self._inner = inner
        self._carry = b""
        self._first = True

    def _rewrite(self, lines: bytes) -> bytes:
        raise NotImplementedError

    def _next_chunk(self) -> bytes:
        while True:
            raw = bytes(self._inner.read(CHUNK))
            data = self._carry + raw
            if self._first and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]  # the BOM would hide a comment sign on the first line
            if not raw:
                self._carry = b""
                return self._rewrite(data) if data else b""
            cut = data.rfind(b"\n") + 1
            self._carry = data[cut:]
            if cut:
                self._first = False
                out = self._rewrite(data[:cut])
                if out:
                    return out

    def close(self) -> None:
        self._inner.close()
        super().close()


class CommentFilter(_LineFilter):
    """Drops the lines that start with the comment character."""

    def __init__(self, inner: Any, comment: str) -> None:
        super().__init__(inner)
        c = re.escape(comment.encode())
        self._pattern = re.compile(rb"^" + c + rb"[^\n]*(?:\n|\Z)", re.M)

    def _rewrite(self, lines: bytes) -> bytes:
        return self._pattern.sub(b"", lines)


class SpaceCollapser(_LineFilter):
    """Fields separated by runs of spaces (and tabs), as one space: runs become one space
    and spaces at either end of a line go, outside quoted values."""

    _EDGES = re.compile(rb"[ \t]*(\r?\n)[ \t]*")
    _RUNS = re.compile(rb"[ \t]+")

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._quoted = False  # inside a quoted value at the end of the last block

    def _collapse(self, text: bytes) -> bytes:
        return self._RUNS.sub(b" ", self._EDGES.sub(rb"\1", text))

    def _rewrite(self, lines: bytes) -> bytes:
        # every block starts at the start of a line, and the last may lack its line break
        if not self._quoted:
            lines = lines.lstrip(b" \t")
            if not lines.endswith(b"\n"):
                lines = lines.rstrip(b" \t")
        if b'"' not in lines and not self._quoted:
            return self._collapse(lines)
        parts = lines.split(b'"')
        out = []
        for i, part in enumerate(parts):
            inside = self._quoted if i % 2 == 0 else not self._quoted
            out.append(part if inside else self._collapse(part))
        if len(parts) % 2 == 0:  # an odd number of quotes: the quoting flips
            self._quoted = not self._quoted
        return b'"'.join(out)


class Compressor:
    """A binary sink that compresses what is written to it into `path`. It offers write and
    flush only (no fileno), so a writer cannot reach past it to the file descriptor."""

    def __init__(self, path: str, codec: str) -> None:
        self._codec = codec
        self._file: Any = None
        if codec == "xz":
            self._out: Any = lzma.open(path, "wb", preset=6)  # noqa: SIM115 - closed in close()
        elif codec == "gzip":
            # level 6, gzip's own default (pyarrow's is 9: four times slower for 2% less), and no
            # time stamp in the header, so the same data gives the same bytes
            self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
            self._out = gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=self._file, mtime=0)
        else:
            import pyarrow as pa

            self._out = pa.CompressedOutputStream(path, _PYARROW_CODECS[codec])

    def write(self, data: Any) -> int:
        self._out.write(data)
        return len(data)

    def flush(self) -> None:
        """Nothing: a flush mid-stream would cost compression (gzip's sync points); the
        stream is finished by close(), before the output is renamed into place."""

    def close(self) -> None:
        self._out.close()
        if self._file is not None:
            self._file.close()


def open_compressed_sink(path: str, codec: str) -> BinaryIO:
    """`Compressor` typed as the binary sink the writers take."""
    return Compressor(path, codec)  # type: ignore[return-value]
