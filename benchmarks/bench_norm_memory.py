"""Peak memory of `normcli norm` on an activation array much larger than its blocks.

    python benchmarks/bench_norm_memory.py [--gb 2] [--kinds batch,group,layer] [--keep]

Writes a float32 N x 256 x 64 x 64 array of about --gb gigabytes to benchmarks/data/ (as
bench_lrn_memory.py does, block by block), runs `normcli norm` on it in a child process for
each kind (batch norm takes two passes over the file, the others one), with -q and with
the statistics report, and prints the wall time and the child's peak resident memory
(ru_maxrss) next to the input size. The target is under 300 MB for a 2 GB input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from bench_lrn_memory import make_input, run

HERE = Path(__file__).resolve().parent
OPTIONS = {
    "batch": [],
    "instance": [],
    "group": ["--groups", "32"],
    "layer": ["--normalized-dims", "3"],
    "rms": ["--normalized-dims", "1"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="input size in GiB (default 2)")
    parser.add_argument("--kinds", default="batch,group,layer", help="comma-separated kinds to run")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    src, dst = data / f"acts_{args.gb:g}gb.npy", data / "acts_norm_out.npy"
    shape = make_input(src, args.gb)
    size_mb = src.stat().st_size / 2**20
    print(f"input: float32 {shape}, {size_mb:,.0f} MB")
    print(f"{'run':<34} {'seconds':>8} {'peak RSS MB':>12} {'RSS / input':>12}")
    for kind in args.kinds.split(","):
        base = [sys.executable, "-m", "normcli", "norm", str(src), "-o", str(dst), "--kind", kind, *OPTIONS[kind]]
        for label, extra in (("-q", ["-q"]), ("with the report", [])):
            seconds, rss = run(base + extra)
            print(f"{f'norm --kind {kind} {label}':<34} {seconds:8.2f} {rss:12.0f} {rss / size_mb:12.1%}", flush=True)
        out = np.load(dst, mmap_mode="r")
        assert out.shape == shape and out.dtype == np.float32
    if not args.keep:
        src.unlink()
        dst.unlink()


if __name__ == "__main__":
    main()
