"""fit and transform of a partitioned Parquet dataset: the local engine against --engine dask.

    python benchmarks/bench_dataset.py                          # 16 parts, 16M rows x 20 columns
    python benchmarks/bench_dataset.py --rows 2000000 --repeats 3   # a smaller look

Generates, with a fixed seed, PARTS Parquet files of ROWS/PARTS rows x COLS float columns into
benchmarks/data/dataset-R-C-P/ (reused while the parameters match; hive folders part=NN/).
Then runs, in turns, `--repeats` times each:

- `local`:   normcli fit DIR -m zscore           | normcli transform DIR -s S -o OUT/
- `dask-1`:  the same with --engine dask --workers 1 (a LocalCluster of 1 process, started per run)
- `dask-2`:  the same with --engine dask --workers 2

and prints the median wall time, rows/s, the ratio to the local engine and the driver's peak RSS
(the normcli process only: its VmHWM at exit, workers not included). Cluster start-up is
part of each dask run, as a user sees it. The machine's load average is printed: numbers from
a loaded machine are noisy; the ratios, from interleaved runs, less so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Runs normcli in this interpreter and writes its own peak RSS (KiB) to the file in $NORMCLI_RSS_FILE.
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent (this script,
# which holds the generated data), so it would report this script's peak, not normcli's.
LAUNCHER = """
import atexit, os, resource, sys
def _rss():
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    with open(os.environ["NORMCLI_RSS_FILE"], "w") as f:
        f.write(str(kib))
atexit.register(_rss)
sys.argv = ["normcli", *sys.argv[1:]]
from normcli.cli import main
main()
"""
ENGINES = {
    "local": [],
    "dask-1": ["--engine", "dask", "--workers", "1"],
    "dask-2": ["--engine", "dask", "--workers", "2"],
}


def generate(folder: Path, rows: int, cols: int, parts: int, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if folder.exists():
        return
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    rng = np.random.default_rng(seed)
    per = rows // parts
    for p in range(parts):
        scale = 10.0 ** rng.uniform(-3, 6, cols)
        offset = rng.uniform(-1e6, 1e6, cols)
        data = {f"c{j:02d}": rng.standard_normal(per) * scale[j] + offset[j] for j in range(cols)}
        (tmp / f"part={p:02d}").mkdir(parents=True)
        pq.write_table(pa.table(data), tmp / f"part={p:02d}" / "data.parquet", row_group_size=256 * 1024)
    tmp.rename(folder)


def timed(args: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and the driver's peak RSS in MiB."""
    with tempfile.NamedTemporaryFile(prefix="rss-", delete=False) as f:
        rss_file = f.name
    env = {**os.environ, "NORMCLI_RSS_FILE": rss_file}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *args], cwd=cwd, env=env, capture_output=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: normcli {' '.join(args)}\n{proc.stderr.decode()}")
    rss = int(Path(rss_file).read_text() or 0) // 1024
    os.unlink(rss_file)
    return wall, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=16_000_000)
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--parts", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    a = ap.parse_args()
    engines = a.engines.split(",")
    data = HERE / "data" / f"dataset-{a.rows}-{a.cols}-{a.parts}"
    generate(data, a.rows, a.cols, a.parts, a.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-dataset-"))
    print(f"{a.rows:,} rows x {a.cols} columns in {a.parts} Parquet parts; load average {os.getloadavg()}")
    results: dict[tuple[str, str], list[tuple[float, int]]] = {}
    try:
        for _ in range(a.repeats):
            for engine in engines:  # in turns, so a load spike hits every engine alike
                extra = ENGINES[engine]
                fit = ["fit", str(data), "-m", "zscore", "-o", str(work / "s.json"), "-q", *extra]
                results.setdefault(("fit", engine), []).append(timed(fit, work))
                out = work / "out"
                transform = ["transform", str(data), "-s", str(work / "s.json"), "-o", f"{out}/", "-q", *extra]
                results.setdefault(("transform", engine), []).append(timed(transform, work))
                shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'task':<10} {'engine':<8} {'wall s':>8} {'rows/s':>12} {'vs local':>9} {'driver RSS MiB':>15}")
    for task in ("fit", "transform"):
        base = statistics.median(w for w, _ in results[(task, engines[0])])
        for engine in engines:
            runs = results[(task, engine)]
            wall = statistics.median(w for w, _ in runs)
            rss = max(r for _, r in runs)
            print(f"{task:<10} {engine:<8} {wall:8.2f} {a.rows / wall:12,.0f} {wall / base:8.2f}x {rss:15,d}")
    print(f"medians of {a.repeats}; load average now {os.getloadavg()}")


if __name__ == "__main__":
    main()
