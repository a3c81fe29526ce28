"""Which file format a path or a --format option names."""

from __future__ import annotations

from pathlib import Path

from normcli.errors import UsageError

__all__ = ["COMPRESSIONS", "FORMATS", "STDIO", "compression_suffix", "detect_format", "label", "output_format"]

STDIO = "-"
FORMATS = ("csv", "tsv", "parquet", "npy")
# compression suffixes -> codec; `data.csv.gz` is gzip-compressed CSV
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz"}
# data formats normcli does not write: an output named so is refused, not filled with CSV
_OTHER_FORMATS = frozenset(
    (".xlsx", ".xls", ".ods", ".json", ".jsonl", ".feather", ".arrow", ".ipc", ".orc", ".avro", ".h5", ".hdf5")
)
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy"}


def label(path: str) -> str:
    """How a path is named in messages."""
    return "<stdin>" if path == STDIO else path


def compression_suffix(path: str) -> tuple[str, str | None]:
    """`path` without its compression suffix, and the codec that suffix names (or None)."""
    if path == STDIO:
        return path, None
    suffix = Path(path).suffix.lower()
    if suffix in COMPRESSIONS:
        return path[: -len(suffix)], COMPRESSIONS[suffix]
    return path, None


def detect_format(
    path: str, override: str | None = None, *, default: str | None = None, option: str = "--format"
) -> str:
    """The format of `path`: `override` if given, else its extension, else `default`."""
    if override is not None:
        fmt = override.lower().lstrip(".")
        fmt = {"pq": "parquet", "tab": "tsv"}.get(fmt, fmt)
        if fmt not in FORMATS:
            raise UsageError(f"{option} must be one of {', '.join(FORMATS)}, not {override!r}")
        return fmt
    if path != STDIO:
        inner, codec = compression_suffix(path)
        suffix = Path(inner).suffix.lower()
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
        if suffix == ".npz":
            raise UsageError(f"{path}: .npz archives are not supported; save the array with np.save as .npy")
        if suffix in _OTHER_FORMATS:
            raise UsageError(f"{path}: {suffix} is not a format normcli handles; use {option} {'|'.join(FORMATS)}")
        if default is None:
            shown = suffix + Path(path).suffix if codec else suffix or "(none)"
            raise UsageError(
                f"{path}: cannot tell the format from the extension {shown!r}; use {option} {'|'.join(FORMATS)}"
            )
    return default or "csv"


def output_format(output: str, override: str | None, input_format: str) -> str:
    """The format to write `output` in: `override` if given, else the output's extension;
    stdout, /dev/null or out.txt get the input's format."""
    return detect_format(output, override, default=input_format, option="--output-format")
