"""Time normcli's LRN against torch.nn.functional.local_response_norm on AlexNet shapes.

    python benchmarks/bench_lrn.py [--repeats 7]

For float32 (32, 96, 55, 55) and (64, 256, 27, 27) with size 5 and torch's defaults
(alpha=1e-4, beta=0.75, k=1), in one process: the median wall time of normcli's `lrn`
(NCHW, torch convention), of torch (its default CPU threads), and of normcli's TF
convention on the same data in NHWC (TF(r=2, alpha=1e-4/5) equals torch(size=5,
alpha=1e-4)). Every normcli result is checked against torch to 1e-6 relative. Without
torch it times normcli alone. Always exits 0; a disagreement is printed as DISAGREE.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

if importlib.util.find_spec("normcli") is None:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from normcli.lrn_kernel import lrn  # noqa: E402

SHAPES = [(32, 96, 55, 55), (64, 256, 27, 27)]
SIZE, ALPHA, BETA, K = 5, 1e-4, 0.75, 1.0
RTOL = 1e-6


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of `run` after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def max_rel_diff(ours: np.ndarray, reference: np.ndarray) -> float:
    """max |ours - reference| / |reference| (0 where both are 0)."""
    ref = reference.astype(np.float64)
    err = np.abs(ours.astype(np.float64) - ref)
    return float(np.max(np.divide(err, np.abs(ref), out=np.where(err == 0, 0.0, np.inf), where=ref != 0)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (median reported)")
    args = parser.parse_args()

    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = None
        print("torch is not installed; timing normcli alone. For the comparison:")
        print("    pip install torch==2.13.0")
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; numpy {np.__version__}")
    print(f"float32, size={SIZE}, alpha={ALPHA}, beta={BETA}, k={K}; median of {args.repeats} runs\n")

    header = f"{'case':<22} {'shape':<18} {'normcli ms':>10} {'torch ms':>9} {'torch/normcli':>13}  check"
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = rng.standard_normal(shape, dtype=np.float32)
        x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        y_torch = None
        t_torch = float("nan")
        if torch is not None:
            xt = torch.from_numpy(x)
            t_torch = median_seconds(lambda xt=xt: F.local_response_norm(xt, SIZE, ALPHA, BETA, K), args.repeats)
            y_torch = F.local_response_norm(xt, SIZE, ALPHA, BETA, K).numpy()

        cases = [
            (
                "torch NCHW",
                x,
                lambda x=x: lrn(x, convention="torch", size=SIZE, alpha=ALPHA, beta=BETA, bias=K),
                lambda y: y,
            ),
            (
                "tf NHWC (same maths)",
                x_nhwc,
                lambda x=x_nhwc: lrn(x, convention="tf", depth_radius=SIZE // 2, alpha=ALPHA / SIZE, beta=BETA, bias=K),
                lambda y: y.transpose(0, 3, 1, 2),
            ),
        ]
        for name, data, run, to_nchw in cases:
            t_ours = median_seconds(run, args.repeats)
            if y_torch is None:
                check, ratio = "-", "-"
            else:
                diff = max_rel_diff(to_nchw(run()), y_torch)
                check = f"{'ok' if diff <= RTOL else 'DISAGREE'} (max rel diff {diff:.1e})"
                ratio = f"{t_torch / t_ours:.1f}x"
            torch_ms = "-" if torch is None else f"{t_torch * 1e3:.1f}"
            print(f"{name:<22} {str(data.shape):<18} {t_ours * 1e3:>10.1f} {torch_ms:>9} {ratio:>13}  {check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
