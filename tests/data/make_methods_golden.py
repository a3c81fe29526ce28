"""Make tests/data/methods_golden.npz: scikit-learn's answers for the methods of issue 14.

Run with scikit-learn installed (the test suite itself does not need it):
    python tests/data/make_methods_golden.py
The data are made here from a fixed seed: a skewed column (log-normal), a heavy-tailed one
(Student t, 2 degrees of freedom), one with many ties (small integers) and one with NaN.
For each case the file holds the transformed data (`<case>:y`) and the fitted values
scikit-learn found (`<case>:<name>`); the power transforms also their lambdas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sklearn
from sklearn import preprocessing as P

OUT = Path(__file__).with_name("methods_golden.npz")


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    n = 400
    skewed = rng.lognormal(0.0, 1.0, n)
    heavy = rng.standard_t(2, n)
    ties = rng.integers(0, 6, n).astype(np.float64)
    with_nan = rng.exponential(3.0, n)
    with_nan[rng.random(n) < 0.1] = np.nan
    x = np.column_stack([skewed, heavy, ties, with_nan])
    positive = np.column_stack([skewed, ties + 1.0, with_nan])
    return x, positive


CASES = {
    "scale": (P.StandardScaler(with_mean=False), {}),
    "maxabs": (P.MaxAbsScaler(), {}),
    "robust": (P.RobustScaler(), {}),
    "robust_options": (
        P.RobustScaler(quantile_range=(10.0, 90.0), with_centering=False, unit_variance=True),
        {"quantile_range": [10.0, 90.0], "with_centering": False, "unit_variance": True},
    ),
    "robust_noscale": (P.RobustScaler(with_scaling=False), {"with_scaling": False}),
    "quantile": (P.QuantileTransformer(subsample=None), {}),
    "quantile_normal": (
        P.QuantileTransformer(subsample=None, output_distribution="normal", n_quantiles=100),
        {"output_distribution": "normal", "n_quantiles": 100},
    ),
    "yeo-johnson": (P.PowerTransformer(method="yeo-johnson"), {}),
    "yeo-johnson_raw": (P.PowerTransformer(method="yeo-johnson", standardize=False), {"standardize": False}),
    "box-cox": (P.PowerTransformer(method="box-cox"), {}),
}


def main() -> None:
    x, positive = data()
    out: dict[str, np.ndarray] = {"x": x, "positive": positive}
    for case, (model, _) in CASES.items():
        inputs = positive if case.startswith("box-cox") else x
        out[f"{case}:y"] = model.fit(inputs).transform(inputs)
        for attr in ("scale_", "center_", "max_abs_", "quantiles_", "lambdas_", "mean_"):
            value = getattr(model, attr, None)
            if value is not None:
                out[f"{case}:{attr}"] = np.asarray(value)
        scaler = getattr(model, "_scaler", None)
        if scaler is not None:
            out[f"{case}:mean_"], out[f"{case}:scale_"] = scaler.mean_, scaler.scale_
    out["sklearn_version"] = np.array(sklearn.__version__)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) with scikit-learn {sklearn.__version__}")


if __name__ == "__main__":
    main()
