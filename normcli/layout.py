"""How data a scaler is fitted on is shaped: a table of named columns, or an N-D array whose
features lie along one axis. Readers report it, scalers store it, transforms check it.

Pure Python: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """A table (`ndim` and `axis` None), or an `ndim`-D array with its features on `axis`."""

    ndim: int | None = None
    axis: int | None = None

    @classmethod
    def table(cls) -> Layout:
        return cls()

    @classmethod
    def array(cls, ndim: int, axis: int) -> Layout:
        return cls(ndim, axis)

    @property
    def kind(self) -> str:
        return "table" if self.ndim is None else "array"

    @property
    def is_array(self) -> bool:
        return self.ndim is not None

    def to_dict(self) -> dict[str, Any]:
        """As a scaler file stores it: {"kind": "table"} or {"kind": "array", "ndim": N, "axis": K}."""
        if self.ndim is None:
            return {"kind": "table"}
        return {"kind": "array", "ndim": self.ndim, "axis": self.axis}
