"""What every activation-tensor operation shares: option checks (in the words of their
messages; the checks themselves are validate's), the channel axis from `layout`/`channel_axis`,
the dtype a result is computed and written in, and float16 overflow.

The core names parameters (`channel_axis`); only the command line knows flags.
Pure NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from normcli.errors import DataError, OptionError, UsageError
from normcli.validate import as_finite_float
from normcli.validate import as_int as whole_number

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


def as_int(parameter: str, value: Any) -> int:
    """`value` as an int (see `validate.as_int`), in the activation messages' words: value first."""
    try:
        return whole_number(parameter, value)
    except OptionError:
        raise OptionError(parameter, value, "a whole number", "{parameter} {value!r} must be a whole number") from None


def as_float(parameter: str, value: Any) -> float:
    """`value` as a finite float (see `validate.as_finite_float`), value first."""
    try:
        return as_finite_float(parameter, value)
    except OptionError:
        raise OptionError(
            parameter, value, "a finite number", "{parameter} {value!r} must be a finite number"
        ) from None


def fmt(value: float) -> str:
    """A short, exact-enough rendering of a parameter for messages and explanations."""
    return f"{value:.10g}"


def resolve_channel_axis(ndim: int, layout: str | None, channel_axis: Any, default: int) -> tuple[int, str | None]:
    """The non-negative channel axis of an `ndim`-D array, and the parameter that chose it as
    a note template (`"{channel_axis} 3"`; None when `default` did). `layout` NHWC means the
    last axis, NCHW axis 1; giving both parameters is fine only when they agree."""
    layout_axis = None
    if layout is not None:
        name = str(layout).upper()
        if name not in LAYOUTS:
            raise UsageError.about("{layout} {value!r} is not one of NHWC, NCHW", value=layout)
        layout_axis = ndim - 1 if name == "NHWC" else 1
    axis = None
    if channel_axis is not None:
        given = as_int("channel_axis", channel_axis)
        if not -ndim <= given < ndim:
            raise UsageError.about(
                "{channel_axis} {given} is out of range for a {ndim}-D array (use {lowest}..{highest})",
                given=given,
                ndim=ndim,
                lowest=-ndim,
                highest=ndim - 1,
            )
        axis = given % ndim
    if layout_axis is not None and axis is not None and layout_axis != axis:
        raise UsageError.about(
            "{layout} {name} puts channels on axis {layout_axis} of a "
            "{ndim}-D array but {channel_axis} {given} is axis {axis}; pass only one",
            name=str(layout).upper(),
            layout_axis=layout_axis,
            ndim=ndim,
            given=channel_axis,
            axis=axis,
        )
    if axis is not None:
        return axis, "{channel_axis} " + str(given)
    if layout_axis is not None:
        return layout_axis, "{layout} " + str(layout).upper()
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
