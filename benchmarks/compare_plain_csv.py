"""Plain comma-separated UTF-8 CSV, two versions of normcli side by side: fit and CSV -> CSV
transform, each run as its own process, in turns, median of the repeats and the ratio.

    git archive <base-commit> normcli | tar -x -C /tmp/normcli-base
    python benchmarks/compare_plain_csv.py --base /tmp/normcli-base --rows 500000 --repeats 5

`--new` defaults to this checkout. The data is benchmarks/run.py's table (20 float columns
and a text column), written once to benchmarks/data/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = "import sys; from normcli.cli import run; sys.argv[0] = 'normcli'; run()"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="folder holding the baseline normcli package")
    parser.add_argument("--new", default=str(HERE.parent), help="folder holding the new normcli package")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    import pyarrow.csv as pacsv
    from run import make_table

    data = HERE / "data" / f"plain_{args.rows}.csv"
    if not data.exists():
        data.parent.mkdir(exist_ok=True)
        pacsv.write_csv(make_table(args.rows, 0), data)
    out = HERE / "out" / "compare"
    out.mkdir(parents=True, exist_ok=True)
    envs = {name: {**os.environ, "PYTHONPATH": folder} for name, folder in (("base", args.base), ("new", args.new))}
    scaler = out / "s.json"
    subprocess.run([sys.executable, "-c", CODE, "fit", data, "-m", "zscore", "-o", scaler, "-q"], check=True)
    tasks = {
        "fit": ["fit", data, "-m", "zscore", "-o", out / "fit.json", "-q"],
        "transform": ["transform", data, "-s", scaler, "-o", out / "out.csv", "-q"],
    }
    times: dict[tuple[str, str], list[float]] = {(t, v): [] for t in tasks for v in envs}
    for _ in range(args.repeats):
        for task, argv in tasks.items():
            for version, env in envs.items():
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", CODE, *map(str, argv)], env=env, cwd=out, check=True)
                times[task, version].append(time.perf_counter() - start)
    for task in tasks:
        base, new = statistics.median(times[task, "base"]), statistics.median(times[task, "new"])
        print(f"{task:10s} base {base:.3f} s  new {new:.3f} s  new/base {new / base:.3f}  ({args.repeats} runs each)")


if __name__ == "__main__":
    main()
