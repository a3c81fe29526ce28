"""Peak memory of `normcli lrn` on an activation array larger than a few blocks.

    python benchmarks/bench_lrn_memory.py [--gb 2] [--keep]

Writes a float32 N x 256 x 64 x 64 array of about --gb gigabytes to benchmarks/data/
(block by block, so this script itself stays small), runs `normcli lrn` on it in a child
process (with and without the statistics report), and prints the wall time and the
child's peak resident memory (ru_maxrss) next to the input size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
C, H, W = 256, 64, 64


def make_input(path: Path, gigabytes: float) -> tuple[int, ...]:
    n = max(1, int(gigabytes * 2**30 / (C * H * W * 4)))
    shape = (n, C, H, W)
    if path.exists() and np.load(path, mmap_mode="r").shape == shape:
        return shape
    # Plain writes, not a memory map: a child process inherits its parent's peak RSS
    # across fork/exec, so a mapped 2 GB here would be charged to normcli below.
    rng = np.random.default_rng(0)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": shape})
        for _ in range(n):
            fh.write(np.maximum(rng.standard_normal((C, H, W), dtype=np.float32), 0).tobytes())
    return shape


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(args)}\n{err}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="input size in GiB (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    src, dst = data / f"acts_{args.gb:g}gb.npy", data / "acts_lrn_out.npy"
    shape = make_input(src, args.gb)
    size_mb = src.stat().st_size / 2**20
    normcli = [sys.executable, "-m", "normcli", "lrn", str(src), "-o", str(dst), "--size", "5"]
    print(f"input: float32 {shape}, {size_mb:,.0f} MB")
    print(f"{'run':<28} {'seconds':>8} {'peak RSS MB':>12} {'RSS / input':>12}")
    for label, extra in (("lrn -q (no statistics)", ["-q"]), ("lrn (with the report)", [])):
        seconds, rss = run(normcli + extra)
        print(f"{label:<28} {seconds:8.2f} {rss:12.0f} {rss / size_mb:12.1%}")
    out = np.load(dst, mmap_mode="r")
    assert out.shape == shape and out.dtype == np.float32
    if not args.keep:
        src.unlink()
        dst.unlink()


if __name__ == "__main__":
    main()
