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
"""

from __future__ import annotations

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


def main() -> None:
    rng = np.random.default_rng(2013)
    np.savez_compressed(HERE / "norm_golden_torch.npz", **norm_golden(rng))
    print(f"wrote {HERE / 'norm_golden_torch.npz'}")


if __name__ == "__main__":
    main()
