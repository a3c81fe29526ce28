"""`--convention keras` against Keras itself: outputs of Keras 3's BatchNormalization,
LayerNormalization, GroupNormalization (and groups=-1, instance norm) and RMSNormalization
with their default epsilon and axes, and the moving statistics of a BatchNormalization fed
mini-batches in training mode, stored in tests/data/norm_golden_keras.npz by
tests/data/make_norm_golden.py (so the suite needs neither keras nor torch). Keras computes
these layers in float32 (even for float64 input, on its torch and JAX backends), so the
goldens are float32 and agree to 1e-5: enough to tell eps 1e-3 from 1e-5, a biased from an
unbiased variance, or the two momentum rules apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import normcli
from normcli.tensor.norm import default_eps

from conftest import run

GOLDEN = Path(__file__).resolve().parent / "data" / "norm_golden_keras.npz"


def keras_cases():
    with np.load(GOLDEN, allow_pickle=False) as data:
        i = 0
        while f"kcase{i}_x" in data.files:
            spec = dict(item.split("=") for item in str(data[f"kcase{i}_spec"][0]).split(";"))
            arrays = {k: data[f"kcase{i}_{k}"] for k in ("x", "y", "gamma", "beta") if f"kcase{i}_{k}" in data.files}
            yield pytest.param(spec, arrays, id=f"{i}-{spec['layer']}-{spec['kind']}-{arrays['x'].dtype}")
            i += 1


def keras_bn_cases():
    with np.load(GOLDEN, allow_pickle=False) as data:
        j = 0
        while f"kbn{j}_x" in data.files:
            yield pytest.param(
                {k.split("_", 1)[1]: data[k] for k in data.files if k.startswith(f"kbn{j}_")}, id=f"kbn{j}"
            )
            j += 1


TOL = 1e-5


@pytest.mark.parametrize(("spec", "arrays"), list(keras_cases()))
def test_keras_layers_with_their_defaults(spec, arrays):
    kind = spec["kind"]
    x, want = arrays["x"], arrays["y"]
    # the convention's default eps is the layer's own default
    assert default_eps("keras", kind, x.dtype) == float(spec["eps"])
    options: dict = {}
    if kind in ("layer", "rms"):
        options["normalized_dims"] = int(spec["dims"])
    if kind == "group":
        options["groups"] = int(spec["groups"])
    # no eps and no layout given: the keras convention's defaults (channels last)
    y = normcli.norm(x, kind, convention="keras", gamma=arrays.get("gamma"), beta=arrays.get("beta"), **options)
    assert y.dtype == want.dtype
    tol = TOL
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("case", list(keras_bn_cases()))
def test_bn_stats_keeps_the_moving_statistics_of_a_keras_batchnormalization(case):
    x = case["x"]
    stats = normcli.bn_stats(x, batch_size=int(case["batch"]), momentum=float(case["momentum"]), convention="keras")
    tol = TOL
    np.testing.assert_allclose(stats["moving_mean"], case["moving_mean"], rtol=tol, atol=tol)
    np.testing.assert_allclose(stats["moving_variance"], case["moving_variance"], rtol=tol, atol=tol)
    # inference mode with those statistics is the layer's training=False output
    y = normcli.norm(
        case["new"],
        "batch",
        convention="keras",
        gamma=case["gamma"],
        beta=case["beta"],
        running_mean=stats["moving_mean"],
        running_var=stats["moving_variance"],
    )
    want = case["y"]
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max())))


def test_cli_keras_pipeline_reproduces_a_keras_batchnormalization(tmp_path):
    """bn-stats on the training batches, then inference with the written file and the
    layer's gamma/beta: the CLI gives the Keras layer's training=False output."""
    with np.load(GOLDEN, allow_pickle=False) as data:
        case = {k.split("_", 1)[1]: data[k] for k in data.files if k.startswith("kbn0_")}
    np.save(tmp_path / "train.npy", case["x"])
    np.save(tmp_path / "new.npy", case["new"])
    np.savez(tmp_path / "affine.npz", gamma=case["gamma"], beta=case["beta"])
    momentum = str(float(case["momentum"]))
    args = ("--batch-size", str(int(case["batch"])), "--momentum", momentum, "--convention", "keras", "-q")
    r = run("bn-stats", "train.npy", "-o", "bn.npz", *args, cwd=tmp_path)
    assert r.code == 0 and r.err == "", r.err
    r = run(
        "norm", "new.npy", "-o", "out.npy", "--kind", "batch", "--convention", "keras",
        "--stats", "bn.npz", "--affine", "affine.npz", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0 and r.err == "", r.err
    want = case["y"]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), want, rtol=TOL, atol=TOL * float(np.abs(want).max()))
