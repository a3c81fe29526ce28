"""Rounding to significant digits, so text output is as short as the user asks.

CSV writers print the shortest text that reads back as the same float64. Rounding first to
N significant digits, so that the float is the one nearest to an N-digit decimal, makes that
text at most N digits long: shorter files, faster writes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["round_significant"]

_EXACT_POWERS = 22  # 10**k is exact in float64 for 0 <= k <= 22


def round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    """x rounded to `digits` significant decimal digits (NaN and inf unchanged).

    Scaling by an exact power of ten and rounding to an integer m gives m / 10**k, which
    IEEE division rounds to the float nearest the decimal, so its shortest repr has at most
    `digits` digits. Where no exact power of ten reaches (|x| below ~1e-22 or above ~1e22)
    the few such values are rounded one by one through Python's correctly rounded formatting."""
    if digits < 1:
        raise ValueError("digits must be >= 1")
    x = np.asarray(x, dtype=np.float64)
    out = x.copy()
    finite = np.isfinite(x) & (x != 0)
    if not finite.any():
        return out
    v = x[finite]
    k = digits - 1 - np.floor(np.log10(np.abs(v))).astype(np.int64)
    r = np.empty_like(v)
    up = (k >= 0) & (k <= _EXACT_POWERS)
    down = (k < 0) & (k >= -_EXACT_POWERS)
    if up.any():  # m = round(v * 10**k); m / 10**k is the float nearest the decimal
        scale = np.power(10.0, k[up].astype(np.float64))
        r[up] = np.round(v[up] * scale) / scale
    if down.any():  # m = round(v / 10**-k); m * 10**-k is exact or nearest
        scale = np.power(10.0, (-k[down]).astype(np.float64))
        r[down] = np.round(v[down] / scale) * scale
    rest = ~(up | down)
    if rest.any():  # below 1e-22 or above 1e22: no exact power of ten, so let Python round
        r[rest] = [float(f"{value:.{digits - 1}e}") for value in v[rest]]
    out[finite] = r
    return out
