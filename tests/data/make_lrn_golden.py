"""Regenerate the LRN golden files from the real frameworks.

    pip install torch==2.13.0 onnx   # keep the pin
    python tests/data/make_lrn_golden.py

Writes, next to this script:
- lrn_golden_torch.npz: torch.nn.functional.local_response_norm on ranks 3, 4 and 5 with
  odd and even sizes;
- lrn_golden_onnx.npz: the LRN operator of onnx's pure-Python reference evaluator
  (onnx.reference.ReferenceEvaluator), odd and even sizes.

Each case i is stored as `case{i}_x` (input), `case{i}_y` (the framework's output) and
`case{i}_params` (float64: size, alpha, beta, k; for ONNX the float32 values its
attributes hold), plus `versions` naming the framework
versions. Plain numeric/unicode arrays only, so tests load them with allow_pickle=False
and need neither torch nor onnx. Inputs are small and fixed-seed; alpha is large enough
that the divisor matters.

Note on onnx's reference LRN (checked in onnx 1.23): its loop runs `for c in
range(x.shape[0])`, i.e. over the batch axis instead of the channels, so it is only
right when N == C. Every ONNX case here therefore has as many samples as channels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# (shape, size, alpha, beta, k, dtype)
TORCH_CASES = [
    ((2, 6, 7), 2, 1.0, 0.75, 1.0, np.float32),
    ((2, 7, 5), 3, 2.0, 0.75, 0.5, np.float32),
    ((2, 8, 3, 4), 4, 1.5, 0.75, 1.0, np.float32),
    ((3, 9, 4, 3), 5, 1e-4, 0.75, 1.0, np.float32),
    ((2, 9, 4, 3), 5, 3.0, 0.5, 2.0, np.float32),
    ((2, 7, 3, 2, 2), 6, 1.0, 1.0, 1.0, np.float32),
    ((2, 5, 2, 3, 2), 3, 0.5, 0.6, 1.5, np.float32),
    ((2, 10, 3, 3), 7, 2.0, 0.75, 1.0, np.float64),
]

# (shape with N == C, size, alpha, beta, bias, dtype)
ONNX_CASES = [
    ((5, 5, 3, 4), 3, 1.0, 0.75, 1.0, np.float32),
    ((6, 6, 2, 3), 4, 2.0, 0.75, 1.0, np.float32),
    ((7, 7, 2, 2), 5, 1e-4, 0.75, 1.0, np.float32),
    ((6, 6, 3, 2), 2, 1.5, 0.5, 0.5, np.float32),
    ((8, 8, 2, 2), 6, 1.0, 0.9, 2.0, np.float32),
    ((5, 5, 2, 3), 5, 3.0, 1.0, 1.0, np.float64),
]


def make_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Normal values times 3, so x^2 sums are O(10) and the divisor is far from 1."""
    return (3.0 * rng.standard_normal(shape)).astype(dtype)


def torch_golden(rng: np.random.Generator) -> dict[str, np.ndarray]:
    import torch

    arrays: dict[str, np.ndarray] = {"versions": np.array([f"torch {torch.__version__}"])}
    for i, (shape, size, alpha, beta, k, dtype) in enumerate(TORCH_CASES):
        x = make_input(rng, shape, dtype)
        y = torch.nn.functional.local_response_norm(torch.from_numpy(x), size, alpha=alpha, beta=beta, k=k).numpy()
        arrays[f"case{i}_x"] = x
        arrays[f"case{i}_y"] = y
        arrays[f"case{i}_params"] = np.array([size, alpha, beta, k], dtype=np.float64)
    return arrays


def onnx_golden(rng: np.random.Generator) -> dict[str, np.ndarray]:
    import onnx
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    arrays: dict[str, np.ndarray] = {"versions": np.array([f"onnx {onnx.__version__}"])}
    for i, (shape, size, alpha, beta, bias, dtype) in enumerate(ONNX_CASES):
        assert shape[0] == shape[1], "onnx's reference LRN is only right when N == C"
        elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
        node = helper.make_node("LRN", ["X"], ["Y"], size=size, alpha=alpha, beta=beta, bias=bias)
        graph = helper.make_graph(
            [node],
            "lrn",
            [helper.make_tensor_value_info("X", elem, list(shape))],
            [helper.make_tensor_value_info("Y", elem, list(shape))],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        x = make_input(rng, shape, dtype)
        (y,) = ReferenceEvaluator(model).run(None, {"X": x})
        arrays[f"case{i}_x"] = x
        arrays[f"case{i}_y"] = np.asarray(y, dtype=dtype)
        # ONNX stores float attributes as float32; record the values it really used.
        used = [float(np.float32(v)) for v in (alpha, beta, bias)]
        arrays[f"case{i}_params"] = np.array([size, *used], dtype=np.float64)
    return arrays


def main() -> None:
    rng = np.random.default_rng(20240611)
    for name, arrays in (("torch", torch_golden(rng)), ("onnx", onnx_golden(rng))):
        path = HERE / f"lrn_golden_{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({path.stat().st_size} bytes, {(len(arrays) - 1) // 3} cases)")


if __name__ == "__main__":
    main()
