"""Time normcli's batch/layer/instance/group/RMS norm against PyTorch's CPU functionals.

    python benchmarks/bench_norm.py [--repeats 7]

For float32 (32, 96, 55, 55) and (64, 256, 27, 27), in one process: batch_norm
(training=True, its own statistics), layer_norm and rms_norm over (C, H, W),
instance_norm, group_norm with 8 groups; all with affine weight and bias (rms: weight).
normcli and torch run in turns (torch, normcli, torch, normcli, ...) after a warm-up, and
the medians are compared, so a machine shared with other work slows both alike. "fastest"
is the ratio of the fastest call of each (as `timeit` advises, noise only adds time: it is
the cost of the work itself, where the median also holds the machine's mood); the CPU
time of each (all its threads) is printed too, as wall time on a busy machine is mostly
waiting for a core. torch uses its default CPU threads (2 here), normcli `normcli.norm`
(NumPy). Every normcli result is checked against torch to 1e-5 (relative to the output's
scale). Without torch it times normcli alone. Always exits 0; a disagreement is printed as DISAGREE.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

if importlib.util.find_spec("normcli") is None:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from normcli.tensor.norm import KINDS, norm  # noqa: E402

SHAPES = [(32, 96, 55, 55), (64, 256, 27, 27)]
GROUPS = 8
TOL = 1e-5


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - start, time.process_time() - cpu


Times = tuple[float, float]
Summary = tuple[float, float, float]  # median wall, median CPU, fastest wall


def interleaved(
    ours: Callable[[], object], theirs: Callable[[], object] | None, repeats: int
) -> tuple[Summary, Summary]:
    """Median wall and CPU seconds and the fastest wall seconds of each, run in turns after
    one warm-up of each."""
    ours()
    if theirs is not None:
        theirs()
    t_ours: list[Times] = []
    t_theirs: list[Times] = []
    for _ in range(repeats):
        if theirs is not None:
            t_theirs.append(timed(theirs))
        t_ours.append(timed(ours))

    def summary(times: list[Times]) -> Summary:
        if not times:
            return float("nan"), float("nan"), float("nan")
        walls = [t[0] for t in times]
        return statistics.median(walls), statistics.median(t[1] for t in times), min(walls)

    return summary(t_ours), summary(t_theirs)


def cases(x: np.ndarray, w: np.ndarray, b: np.ndarray, lw: np.ndarray, lb: np.ndarray, torch_mod):
    """(kind, normcli call, torch call or None)."""
    ours = {
        "batch": lambda: norm(x, "batch", gamma=w, beta=b),
        "layer": lambda: norm(x, "layer", normalized_dims=3, gamma=lw, beta=lb),
        "instance": lambda: norm(x, "instance", gamma=w, beta=b),
        "group": lambda: norm(x, "group", groups=GROUPS, gamma=w, beta=b),
        "rms": lambda: norm(x, "rms", normalized_dims=3, gamma=lw, eps=1e-5),
    }
    theirs: dict[str, Callable[[], object] | None] = dict.fromkeys(ours)
    if torch_mod is not None:
        F = torch_mod.nn.functional
        t = torch_mod.from_numpy
        xt, wt, bt, lwt, lbt = t(x), t(w), t(b), t(lw), t(lb)
        shape = list(x.shape[1:])
        theirs = {
            "batch": lambda: F.batch_norm(xt, None, None, wt, bt, training=True),
            "layer": lambda: F.layer_norm(xt, shape, lwt, lbt),
            "instance": lambda: F.instance_norm(xt, weight=wt, bias=bt),
            "group": lambda: F.group_norm(xt, GROUPS, wt, bt),
            "rms": lambda: F.rms_norm(xt, shape, lwt, eps=1e-5),
        }
    return [(kind, ours[kind], theirs[kind]) for kind in ours]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (median reported)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds to time (default: all)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not installed; timing normcli alone. For the comparison:")
        print("    pip install torch==2.13.0")
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; numpy {np.__version__}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    runs = f"median of {args.repeats} interleaved runs"
    print(f"float32; {runs}; load average at start {load:.1f} on {os.cpu_count()} CPUs\n")
    header = (
        f"{'kind':<9} {'shape':<18} {'normcli ms':>10} {'torch ms':>9} {'torch/normcli':>13} {'fastest':>7}"
        f" {'CPU ms normcli':>14} {'CPU ms torch':>12}  check"
    )
    print(header)
    print("-" * len(header))
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"--kinds: {', '.join(unknown)} not among {', '.join(KINDS)}")
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        c = shape[1]
        x = (rng.standard_normal(shape, dtype=np.float32) * 2 + 0.5).astype(np.float32)
        w, b = rng.uniform(0.5, 2, c).astype(np.float32), rng.uniform(-1, 1, c).astype(np.float32)
        lw = rng.uniform(0.5, 2, shape[1:]).astype(np.float32)
        lb = rng.uniform(-1, 1, shape[1:]).astype(np.float32)
        for kind, ours, theirs in cases(x, w, b, lw, lb, torch):
            if kind not in kinds:
                continue
            (t_ours, cpu_ours, best_ours), (t_theirs, cpu_theirs, best_theirs) = interleaved(ours, theirs, args.repeats)
            if theirs is None:
                ratio, best, check, torch_ms = "-", "-", "-", "-"
            else:
                y, want = np.asarray(ours(), dtype=np.float64), theirs().numpy().astype(np.float64)  # type: ignore[union-attr]
                diff = float(np.max(np.abs(y - want))) / max(1.0, float(np.max(np.abs(want))))
                check = f"{'ok' if diff <= TOL else 'DISAGREE'} (max diff {diff:.1e})"
                ratio, torch_ms = f"{t_theirs / t_ours:.2f}x", f"{t_theirs * 1e3:.1f}"
                best = f"{best_theirs / best_ours:.2f}x"
            cpu = f"{cpu_ours * 1e3:>14.1f} {cpu_theirs * 1e3:>12.1f}"
            print(
                f"{kind:<9} {str(shape):<18} {t_ours * 1e3:>10.1f} {torch_ms:>9} {ratio:>13} {best:>7} {cpu}  {check}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
