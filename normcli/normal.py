"""The standard normal distribution in NumPy (cdf, ppf), for the quantile and robust scalers.

SciPy is not a dependency; the cdf uses the standard library's erfc and the ppf Acklam's
rational approximation polished by Newton steps on that cdf, which brings it to the last bits
of float64 (scipy.special.ndtri agrees to about 1e-15 relative).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cdf", "ppf"]

_ERFC = np.frompyfunc(math.erfc, 1, 1)
_SQRT2 = math.sqrt(2.0)

_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02, -3.066479806614716e01)
_A0 = 2.506628277459239e00
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549671200281212e00)
_C4, _C5 = 4.374664141464968e00, 2.938163982698783e00
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


def _erfc(x: np.ndarray) -> np.ndarray:
    return np.asarray(_ERFC(x), dtype=np.float64)


def cdf(x: np.ndarray) -> np.ndarray:
    """P(Z <= x); NaN stays NaN."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * _erfc(-x / _SQRT2)


def _lower_tail(p: np.ndarray) -> np.ndarray:
    """ppf for 0 < p <= 0.5 (Acklam, then Newton on the lower tail, where p is exact)."""
    x = np.empty_like(p)
    low = p < _P_LOW
    if low.any():
        q = np.sqrt(-2 * np.log(p[low]))
        num = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C4) * q) + _C5
        x[low] = num / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    mid = ~low
    if mid.any():
        q = p[mid] - 0.5
        r = q * q
        num = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A0) * q
        x[mid] = num / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    for _ in range(2):  # Newton on cdf(x) = p: each step squares the relative error
        err = cdf(x) - p
        x -= err * math.sqrt(2 * math.pi) * np.exp(0.5 * x * x)
    return x


def ppf(p: np.ndarray) -> np.ndarray:
    """The x with P(Z <= x) = p: -inf at 0, inf at 1, NaN outside [0, 1] and for NaN."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    with np.errstate(invalid="ignore"):
        out[p == 0] = -np.inf
        out[p == 1] = np.inf
        lower = (p > 0) & (p <= 0.5)
        upper = (p > 0.5) & (p < 1)
    if lower.any():
        out[lower] = _lower_tail(p[lower])
    if upper.any():  # by symmetry, from 1 - p, which is exact for p >= 0.5
        out[upper] = -_lower_tail(1.0 - p[upper])
    return out
