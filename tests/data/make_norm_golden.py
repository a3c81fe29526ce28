"""Regenerate the batch/layer/instance/group/RMS norm golden file from PyTorch.

    pip install torch==2.13.0   # keep the pin
    python tests/data/make_norm_golden.py

Writes norm_golden_torch.npz next to this script. Each case i is stored as
- `case{i}_x`: the input (NCHW, or NHWC when the case's layout says so: torch gets the
  channels-first transpose and its output is transposed back);
- `case{i}_y`: torch's output;
- `case{i}_weight`, `case{i}_bias`: the affine parameters (absent when the case has none);
- `case{i}_running_mean`, `case{i}_running_var`: for batch norm in inference mode;
- `case{i}_spec`: a string "kind=...;layout=...;eps=...;groups=...;dims=..." (eps "default"
  means torch's own default: 1e-5, or for rms_norm the machine epsilon of the dtype).
and, for `bn-stats`, `bn{j}_x` (the samples), `bn{j}_batch` (the mini-batch size),
`bn{j}_running_mean`/`bn{j}_running_var` of a `BatchNorm{1,2,3}d(momentum=M)` fed those
mini-batches in train mode, and `bn{j}_momentum` (NaN for momentum=None).

Plain numeric/unicode arrays only, so tests load them with allow_pickle=False and need no
torch. Inputs are small and fixed-seed, with channel offsets so the centring matters.

Keras (`--convention keras`): norm_golden_keras.npz, from Keras 3 itself on its torch backend

    pip install torch==2.13.0 keras==3.15.1   # keep the pins
    python tests/data/make_norm_golden.py keras

with `kcase{i}_x`, `kcase{i}_y`, `kcase{i}_gamma`, `kcase{i}_beta` (absent when the layer has
none), `kcase{i}_spec` ("layer=...;kind=...;groups=...;dims=...", channels last, each layer
with its default epsilon and axis), and for BatchNormalization fed mini-batches in training
mode: `kbn{j}_x`, `kbn{j}_batch`, `kbn{j}_momentum`, `kbn{j}_moving_mean`,
`kbn{j}_moving_variance`, and `kbn{j}_new`/`kbn{j}_y`/`kbn{j}_gamma`/`kbn{j}_beta`: the
layer's inference-mode output on a new array. Keras' torch backend takes the variance as
E[x^2] - E[x]^2, which loses float32 digits when |mean| >> std, so the inputs here have
offsets below their spread; and it computes in float32 even for float64 input, so all the
cases are float32.

    python tests/data/make_norm_golden.py [torch|keras|all]   # default all
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# (kind, shape in NCHW order, layout, options, affine, dtype)
CASES = [
    ("batch", (4, 5, 3, 3), "NCHW", {}, True, np.float32),
    ("batch", (6, 4), "NCHW", {}, False, np.float32),
    ("batch", (3, 4, 7), "NCHW", {"eps": 1e-3}, True, np.float64),
    ("batch", (2, 3, 2, 3, 4), "NCHW", {}, True, np.float32),
    ("batch", (4, 6, 3, 2), "NHWC", {}, True, np.float32),
    ("batch_inference", (3, 5, 4, 4), "NCHW", {}, True, np.float32),
    ("batch_inference", (3, 5, 4, 4), "NCHW", {"eps": 0.01}, False, np.float64),
    ("instance", (3, 4, 5, 5), "NCHW", {}, True, np.float32),
    ("instance", (2, 3, 8), "NCHW", {}, False, np.float64),
    ("instance", (2, 4, 3, 5), "NHWC", {}, True, np.float32),
    ("group", (3, 6, 4, 4), "NCHW", {"groups": 3}, True, np.float32),
    ("group", (2, 8, 5), "NCHW", {"groups": 2}, False, np.float32),
    ("group", (2, 6), "NCHW", {"groups": 2}, True, np.float64),
    ("group", (2, 8, 3, 3), "NHWC", {"groups": 4}, True, np.float32),
    ("group", (2, 4, 2, 3, 2), "NCHW", {"groups": 1}, True, np.float32),
    ("layer", (3, 4, 5, 5), "NCHW", {"dims": 3}, True, np.float32),
    ("layer", (4, 7, 16), "NCHW", {"dims": 1}, True, np.float32),
    ("layer", (2, 3, 4, 5), "NCHW", {"dims": 2, "eps": 1e-6}, False, np.float64),
    ("rms", (4, 7, 16), "NCHW", {"dims": 1}, True, np.float32),
    ("rms", (3, 4, 5, 5), "NCHW", {"dims": 2}, False, np.float32),
    ("rms", (2, 3, 8), "NCHW", {"dims": 1, "eps": 1e-5}, True, np.float64),
]

# (samples shape, batch size, momentum or None, dtype)
BN_CASES = [
    ((10, 4, 3, 3), 3, None, np.float32),
    ((12, 3, 5), 4, None, np.float64),
    ((10, 5), 4, None, np.float64),
    ((10, 4, 3, 3), 3, 0.1, np.float32),
    ((8, 3, 2, 2, 2), 4, 0.3, np.float64),
]


def make_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Normal values with a different scale and offset per index of axis 1."""
    c = shape[1]
    scale = rng.uniform(0.5, 3.0, c).reshape((1, c) + (1,) * (len(shape) - 2))
    offset = rng.uniform(-5.0, 5.0, c).reshape((1, c) + (1,) * (len(shape) - 2))
    return (rng.standard_normal(shape) * scale + offset).astype(dtype)


def norm_golden(rng: np.random.Generator) -> dict[str, np.ndarray]:
    import torch
    import torch.nn.functional as F

    arrays: dict[str, np.ndarray] = {"versions": np.array([f"torch {torch.__version__}"])}
    for i, (kind, shape, layout, options, affine, dtype) in enumerate(CASES):
        x = make_input(rng, shape, dtype)
        t = torch.from_numpy(x)
        c = shape[1]
        eps = options.get("eps")
        pshape = shape[-options["dims"] :] if kind in ("layer", "rms") else (c,)
        w = torch.from_numpy(rng.uniform(0.5, 2.0, pshape).astype(dtype)) if affine else None
        b = torch.from_numpy(rng.uniform(-1.0, 1.0, pshape).astype(dtype)) if affine and kind != "rms" else None
        e = 1e-5 if eps is None else eps
        if kind == "batch":
            y = F.batch_norm(t, None, None, w, b, training=True, eps=e)
        elif kind == "batch_inference":
            rm = torch.from_numpy(rng.uniform(-5.0, 5.0, c).astype(dtype))
            rv = torch.from_numpy(rng.uniform(0.5, 9.0, c).astype(dtype))
            y = F.batch_norm(t, rm, rv, w, b, training=False, eps=e)
            arrays[f"case{i}_running_mean"] = rm.numpy()
            arrays[f"case{i}_running_var"] = rv.numpy()
        elif kind == "instance":
            y = F.instance_norm(t, weight=w, bias=b, eps=e)
        elif kind == "group":
            y = F.group_norm(t, options["groups"], w, b, eps=e)
        elif kind == "layer":
            y = F.layer_norm(t, list(pshape), w, b, eps=e)
        else:
            y = F.rms_norm(t, list(pshape), w, eps=eps)
        y_np = y.numpy()
        if layout == "NHWC":
            x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
            y_np = np.ascontiguousarray(np.moveaxis(y_np, 1, -1))
        arrays[f"case{i}_x"] = x
        arrays[f"case{i}_y"] = y_np
        if w is not None:
            arrays[f"case{i}_weight"] = w.numpy()
        if b is not None:
            arrays[f"case{i}_bias"] = b.numpy()
        spec = {
            "kind": kind,
            "layout": layout,
            "eps": "default" if eps is None else repr(eps),
            "groups": str(options.get("groups", "")),
            "dims": str(options.get("dims", "")),
        }
        arrays[f"case{i}_spec"] = np.array([";".join(f"{k}={v}" for k, v in spec.items())])
    for j, (shape, batch, momentum, dtype) in enumerate(BN_CASES):
        x = make_input(rng, shape, dtype)
        layer_type = {
            2: torch.nn.BatchNorm1d,
            3: torch.nn.BatchNorm1d,
            4: torch.nn.BatchNorm2d,
            5: torch.nn.BatchNorm3d,
        }
        layer = layer_type[len(shape)](shape[1], momentum=momentum)
        layer = layer.double() if dtype == np.float64 else layer
        layer.train()
        with torch.no_grad():
            for start in range(0, shape[0], batch):
                layer(torch.from_numpy(x[start : start + batch]))
        arrays[f"bn{j}_x"] = x
        arrays[f"bn{j}_batch"] = np.array(batch)
        arrays[f"bn{j}_momentum"] = np.array(np.nan if momentum is None else momentum)
        arrays[f"bn{j}_running_mean"] = layer.running_mean.numpy()
        arrays[f"bn{j}_running_var"] = layer.running_var.numpy()
        arrays[f"bn{j}_num_batches_tracked"] = np.array(int(layer.num_batches_tracked))
    return arrays


# (layer, kind, shape (channels last), options). All float32: Keras 3 computes these layers
# in float32 even for float64 input outside TensorFlow (its result_type of float64 and
# "float32" is float32 on the torch and JAX backends), so a float64 golden would only be
# float32-exact anyway.
KERAS_CASES = [
    ("BatchNormalization", "batch", (6, 4, 3, 5), {}),
    ("BatchNormalization", "batch", (8, 6), {}),
    ("BatchNormalization", "batch", (4, 3, 3, 2, 4), {}),
    ("LayerNormalization", "layer", (4, 5, 16), {}),
    ("LayerNormalization", "layer", (3, 4, 5, 6), {"dims": 3}),
    ("GroupNormalization", "group", (3, 5, 5, 8), {"groups": 4}),
    ("GroupNormalization", "group", (2, 7, 6), {"groups": 2}),
    ("GroupNormalization", "instance", (3, 4, 4, 6), {"groups": -1}),
    ("RMSNormalization", "rms", (4, 5, 16), {}),
    ("RMSNormalization", "rms", (3, 6, 10), {}),
]

# (samples shape (channels last), batch size, momentum or None for Keras' default 0.99)
KERAS_BN_CASES = [
    ((12, 3, 3, 4), 4, 0.9),
    ((10, 5), 5, None),
    ((9, 4, 6), 3, 0.5),
]
# channel offsets are OFFSETS x uniform(-5, 5), below the spread (see the module docstring)
OFFSETS = 0.3


def keras_input(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 normal values with a different scale and offset per channel (the last axis)."""
    c = shape[-1]
    scale = rng.uniform(0.5, 3.0, c)
    return (rng.standard_normal(shape) * scale + OFFSETS * rng.uniform(-5.0, 5.0, c)).astype(np.float32)


def keras_golden(rng: np.random.Generator) -> dict[str, np.ndarray]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    def as_tensor(a: np.ndarray):  # Keras casts float64 NumPy input to floatx (float32); a tensor keeps its dtype
        return keras.ops.convert_to_tensor(a, dtype=a.dtype.name)

    arrays: dict[str, np.ndarray] = {"versions": np.array([f"keras {keras.__version__} ({keras.backend.backend()})"])}
    for i, (name, kind, shape, options) in enumerate(KERAS_CASES):
        x = keras_input(rng, shape)
        dims = options.get("dims", 1)
        if name == "BatchNormalization":
            layer = keras.layers.BatchNormalization(dtype="float32")
        elif name == "LayerNormalization":
            layer = keras.layers.LayerNormalization(axis=list(range(-dims, 0)), dtype="float32")
        elif name == "GroupNormalization":
            layer = keras.layers.GroupNormalization(groups=options["groups"], dtype="float32")
        else:
            layer = keras.layers.RMSNormalization(dtype="float32")
        layer.build(shape)
        params = {}
        for weight in layer.trainable_weights:
            leaf = weight.path.rsplit("/", 1)[-1]
            low, high = (-1.0, 1.0) if leaf == "beta" else (0.5, 2.0)
            value = rng.uniform(low, high, tuple(weight.shape)).astype(np.float32)
            weight.assign(value)
            params["gamma" if leaf == "scale" else leaf] = value
        y = keras.ops.convert_to_numpy(layer(as_tensor(x), training=True))
        arrays[f"kcase{i}_x"], arrays[f"kcase{i}_y"] = x, y
        for leaf, value in params.items():
            arrays[f"kcase{i}_{leaf}"] = value
        spec = {
            "layer": name,
            "kind": kind,
            "eps": repr(layer.epsilon),
            "groups": str(options.get("groups", "")),
            "dims": str(dims),
        }
        arrays[f"kcase{i}_spec"] = np.array([";".join(f"{k}={v}" for k, v in spec.items())])
    for j, (shape, batch, momentum) in enumerate(KERAS_BN_CASES):
        x = keras_input(rng, shape)
        kwargs = {} if momentum is None else {"momentum": momentum}
        layer = keras.layers.BatchNormalization(dtype="float32", **kwargs)
        layer.build(shape)
        gamma = rng.uniform(0.5, 2.0, shape[-1]).astype(np.float32)
        beta = rng.uniform(-1.0, 1.0, shape[-1]).astype(np.float32)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        for start in range(0, shape[0], batch):
            layer(as_tensor(x[start : start + batch]), training=True)
        new = keras_input(rng, (3, *shape[1:]))
        arrays[f"kbn{j}_x"] = x
        arrays[f"kbn{j}_batch"] = np.array(batch)
        arrays[f"kbn{j}_momentum"] = np.array(layer.momentum)
        arrays[f"kbn{j}_moving_mean"] = keras.ops.convert_to_numpy(layer.moving_mean)
        arrays[f"kbn{j}_moving_variance"] = keras.ops.convert_to_numpy(layer.moving_variance)
        arrays[f"kbn{j}_gamma"], arrays[f"kbn{j}_beta"] = gamma, beta
        arrays[f"kbn{j}_new"] = new
        arrays[f"kbn{j}_y"] = keras.ops.convert_to_numpy(layer(as_tensor(new), training=False))
    return arrays


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("torch", "all"):
        rng = np.random.default_rng(2013)
        np.savez_compressed(HERE / "norm_golden_torch.npz", **norm_golden(rng))
        print(f"wrote {HERE / 'norm_golden_torch.npz'}")
    if which in ("keras", "all"):
        rng = np.random.default_rng(2031)
        np.savez_compressed(HERE / "norm_golden_keras.npz", **keras_golden(rng))
        print(f"wrote {HERE / 'norm_golden_keras.npz'}")


if __name__ == "__main__":
    main()
