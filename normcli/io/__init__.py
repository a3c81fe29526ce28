"""Files <-> batches of named NumPy columns. Imports pyarrow: load it only when needed."""

from normcli.io.atomic import atomic_path, check_output_path, open_output
from normcli.io.formats import FORMATS, STDIO, detect_format, label
from normcli.io.readers import Reader, open_reader
from normcli.io.writers import Writer, open_writer

__all__ = [
    "FORMATS",
    "STDIO",
    "Reader",
    "Writer",
    "atomic_path",
    "check_output_path",
    "detect_format",
    "label",
    "open_output",
    "open_reader",
    "open_writer",
]
