"""What every activation-tensor operation shares: option checks, the channel axis from
`layout`/`channel_axis`, the dtype a result is computed and written in, and float16 overflow.

Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from normcli.errors import DataError, UsageError

__all__ = [
    "LAYOUTS",
    "as_float",
    "as_int",
    "compute_dtype",
    "count_overflow",
    "fmt",
    "output_dtype",
    "resolve_channel_axis",
]

LAYOUTS = ("NHWC", "NCHW")


def as_int(option: str, value: Any) -> int:
    """`value` as an int, or a UsageError naming the option (bools and fractions refused)."""
    if isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{option} {value!r} must be a whole number")
    try:
        return operator.index(value)
    except TypeError:
        pass
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return int(value)
    raise UsageError(f"{option} {value!r} must be a whole number")


def as_float(option: str, value: Any) -> float:
    """`value` as a finite float, or a UsageError naming the option."""
    if isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{option} {value!r} must be a finite number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} {value!r} must be a finite number") from None
    if not math.isfinite(number):
        raise UsageError(f"{option} {value!r} must be a finite number")
    return number


def fmt(value: float) -> str:
    """A short, exact-enough rendering of a parameter for messages and explanations."""
    return f"{value:.10g}"


def resolve_channel_axis(ndim: int, layout: str | None, channel_axis: Any, default: int) -> tuple[int, str | None]:
    """The non-negative channel axis of an `ndim`-D array, and the option that chose it
    (None when `default` did). `layout` NHWC means the last axis, NCHW axis 1; giving both
    options is fine only when they agree."""
    layout_axis = None
    if layout is not None:
        name = str(layout).upper()
        if name not in LAYOUTS:
            raise UsageError(f"--layout {layout!r} is not one of NHWC, NCHW")
        layout_axis = ndim - 1 if name == "NHWC" else 1
    axis = None
    if channel_axis is not None:
        given = as_int("--channel-axis", channel_axis)
        if not -ndim <= given < ndim:
            raise UsageError(f"--channel-axis {given} is out of range for a {ndim}-D array (use {-ndim}..{ndim - 1})")
        axis = given % ndim
    if layout_axis is not None and axis is not None and layout_axis != axis:
        raise UsageError(
            f"--layout {str(layout).upper()} puts channels on axis {layout_axis} of a "
            f"{ndim}-D array but --channel-axis {channel_axis} is axis {axis}; pass only one"
        )
    if axis is not None:
        return axis, f"--channel-axis {channel_axis}"
    if layout_axis is not None:
        return layout_axis, f"--layout {str(layout).upper()}"
    return default, None


def output_dtype(dtype: Any, what: str = "LRN") -> np.dtype:
    """The dtype an activation operation returns for input of `dtype`.

    float32/float64 keep their dtype, float16 stays float16 (computed in float32), and
    bool/integer input becomes float32. Anything else (complex, strings, objects,
    longdouble) is a DataError naming `what`.
    """
    dt = np.dtype(dtype)
    if dt in (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)):
        return dt
    if dt.kind in "biu":
        return np.dtype(np.float32)
    raise DataError(f"{what} needs real numbers but the array has dtype {dt}; convert it to float32 or float64 first")


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float64 stays float64; everything else is computed in float32."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def count_overflow(x: np.ndarray, y: np.ndarray, *, block_elems: int = 1 << 20) -> int:
    """How many outputs are +-inf where the input was finite.

    Meant for float16 output (computed in float32, then cast; large results become inf),
    but valid for any dtype. Reads a block of the first axis at a time, so it works on
    memmaps without loading them.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape != y.shape:
        raise ValueError(f"x and y shapes differ: {x.shape} vs {y.shape}")
    if y.dtype.kind != "f" or y.size == 0:
        return 0
    if y.ndim == 0:
        return int(np.isinf(y) and not np.isinf(x))
    row = max(1, y.size // y.shape[0])
    step = max(1, block_elems // row)
    count = 0
    for start in range(0, y.shape[0], step):
        yb = y[start : start + step]
        xb = x[start : start + step]
        count += int(np.count_nonzero(np.isinf(yb) & ~np.isinf(xb)))
    return count
