"""Which file format a path or a --format option names."""

from __future__ import annotations

from pathlib import Path

from normcli.errors import UsageError

__all__ = ["FORMATS", "STDIO", "detect_format", "label", "output_format"]

STDIO = "-"
FORMATS = ("csv", "tsv", "parquet", "npy")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy"}


def label(path: str) -> str:
    """How a path is named in messages."""
    return "<stdin>" if path == STDIO else path


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
        suffix = Path(path).suffix.lower()
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
        if suffix == ".npz":
            raise UsageError(f"{path}: .npz archives are not supported; save the array with np.save as .npy")
        if default is None:
            raise UsageError(
                f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
                f"use {option} {'|'.join(FORMATS)}"
            )
    return default or "csv"


def output_format(output: str, override: str | None, input_format: str) -> str:
    """The format to write `output` in: `override` if given, else the output's extension;
    stdout gets the input's format."""
    if override is None and output == STDIO:
        return input_format
    return detect_format(output, override, option="--output-format")
