"""Option checks shared by the core: methods, scaler files and the LRN spec.

Each check takes the parameter's name (the CLI shows its flag instead) and the value, and returns the value in its
plain Python type or raises `OptionError` (a UsageError) that carries the name, the value
and what was required. NumPy scalars and 0-d arrays are numbers like any other; bools are
not numbers, and numeric strings are not numbers either (bool("false") is True, and a
scaler file that says "1" meant something else).

Pure Python and NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

from normcli.errors import OptionError, UsageError

__all__ = [
    "as_bool",
    "as_finite_float",
    "as_int",
    "as_nonnegative_float",
    "check_engine",
    "as_pair",
    "first_line",
    "is_number",
    "scalar",
    "to_float",
]


def scalar(value: Any) -> Any:
    """A 0-d array as the scalar it holds; anything else as it is."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    return value


def is_number(value: Any) -> bool:
    """A real number (NumPy's too, or a 0-d array of one), not a bool and not a string."""
    value = scalar(value)
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def to_float(value: Any) -> float | None:
    """A number as a float (+-inf for an integer beyond float64); None for anything else."""
    value = scalar(value)
    if not is_number(value):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def as_finite_float(name: str, value: Any) -> float:
    """`value` as a finite float."""
    number = to_float(value)
    if number is None:
        raise OptionError(name, value, "a finite number")
    if not math.isfinite(number):
        raise OptionError(name, value, "finite")
    return number


def as_nonnegative_float(name: str, value: Any) -> float:
    """`value` as a float >= 0 (+inf allowed: a threshold that never trips)."""
    number = to_float(value)
    if number is None or not number >= 0:
        raise OptionError(name, value, "a number >= 0")
    return number


def as_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """`value` as an int: an integer of any kind, or a float with no fraction; at least
    `minimum` when given."""
    requirement = "a whole number" if minimum is None else f"a whole number >= {minimum}"
    value = scalar(value)
    whole: int | None = None
    if not isinstance(value, bool | np.bool_):
        try:
            whole = operator.index(value)
        except TypeError:
            number = to_float(value)
            if number is not None and math.isfinite(number) and number == int(number):
                whole = int(number)
    if whole is None or (minimum is not None and whole < minimum):
        raise OptionError(name, value, requirement)
    return whole


ENGINES = ("local", "dask")


def check_engine(engine: Any, scheduler: Any, workers: Any) -> int | None:
    """The dataset engine and its cluster options: `engine` one of ENGINES, `workers` a count
    of processes (returned as an int), both cluster options for the dask engine only."""
    if engine not in ENGINES:
        raise OptionError("engine", engine, "'local' or 'dask'")
    count = None if workers is None else as_int("workers", workers, minimum=1)
    if engine == "local" and (scheduler or count):
        raise UsageError.about("{%s} is for {engine} dask" % ("scheduler" if scheduler else "workers"))
    if scheduler and count:
        raise UsageError.about("{scheduler} and {workers} both given; connect to a cluster or start one, not both")
    return count


def as_bool(name: str, value: Any) -> bool:
    """`value` as a bool: True or False (NumPy's too), never a truthy string or number."""
    value = scalar(value)
    if not isinstance(value, bool | np.bool_):
        raise OptionError(name, value, "true or false")
    return bool(value)


def as_pair(name: str, value: Any) -> tuple[float, float]:
    """Two numbers (a list, a tuple or a 1-D array of them) as two floats (+-inf allowed:
    the caller decides whether they must be finite)."""
    items = list(value) if isinstance(value, list | tuple | np.ndarray) and np.ndim(value) == 1 else []
    bounds = [to_float(v) for v in items]
    if len(bounds) != 2 or bounds[0] is None or bounds[1] is None:
        raise OptionError(name, value, "two numbers", "{parameter} needs two numbers LO HI, not {value!r}")
    return bounds[0], bounds[1]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
