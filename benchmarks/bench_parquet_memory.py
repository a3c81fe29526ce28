"""Peak memory (and wall time) of normcli on Parquet, next to polars on the same files.

    python benchmarks/bench_parquet_memory.py                 # 1M rows, medians of 3
    python benchmarks/bench_parquet_memory.py --rows 200000 --repeats 1   # a quick look
    python benchmarks/bench_parquet_memory.py --only one-group --tasks transform

Generates, with a fixed seed, into benchmarks/data/ (reused while the parameters match):

- `one-group`: ROWS rows x (20 float columns + 1 text column) in ONE row group, snappy, as
  pandas writes it (`DataFrame.to_parquet`: one row group up to 1Mi rows);
- `small-groups`: the same rows in row groups of 64k rows (~11 MB each);
- `zstd`: the same rows, one row group, zstd-compressed (as polars writes);
- `4x-groups`: 4 x ROWS rows in row groups of 256k rows (~43 MB each), for flatness: the peak
  here should be the peak on `small-groups`, not four times it.

Floats have magnitudes from 1e-3 to 1e6 and offsets up to 1e6 (like users' data, not rounded),
~0.1% nulls; the text column holds short labels. For each file and task, normcli and polars run
each as its own process (spawned from a tiny launcher so that this script's memory is not
charged to them), in turns, `--repeats` times; the table shows the median wall and CPU seconds,
the largest peak RSS (ru_maxrss of the child) and both ratios to polars. The machine's load
average is printed: numbers from a loaded machine are noisy, the ratios less so.

Tasks (polars gets the constants normcli fitted, as in benchmarks/run.py):
- `stats`:     normcli stats FILE                  | polars: scan_parquet(FILE).describe()
- `fit`:       normcli fit FILE -m zscore          | polars: scan -> mean/std of each float column -> collect
- `transform`: normcli transform FILE -s S -o OUT  | polars: scan -> (x - mean) / std -> sink_parquet
- `inverse`:   normcli inverse OUT -s S -o BACK    | polars: scan(OUT) -> x * std + mean -> sink_parquet

`measure_parquet_memory()` returns the rows as dicts, for benchmarks/run.py to include.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
FLOATS = [f"x{k:02d}" for k in range(20)]
TEXT = "label"
SHAPES = ("one-group", "small-groups", "zstd", "4x-groups")
TASKS = ("stats", "fit", "transform", "inverse")
LIMIT_MB = 300  # the target where row groups are 64 MB or less

LAUNCHER = """
import os, sys, time
actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ, file_actions=actions)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""

POLARS_PRELUDE = """
import json, sys
import polars as pl
src, scaler_path, out = sys.argv[1:4]
with open(scaler_path) as fh:
    FITTED = {c["name"]: c["fitted"] for c in json.load(fh)["columns"]}
"""

POLARS = {
    "stats": POLARS_PRELUDE + "print(pl.scan_parquet(src).describe())\n",
    "fit": POLARS_PRELUDE
    + "lf = pl.scan_parquet(src)\n"
    + "moments = [(pl.col(n).mean().alias(n + '_m'), pl.col(n).std().alias(n + '_s')) for n in FITTED]\n"
    + "print(lf.select([e for pair in moments for e in pair]).collect(engine='streaming'))\n",
    "transform": POLARS_PRELUDE
    + "lf = pl.scan_parquet(src)\n"
    + "lf.with_columns([(pl.col(n) - f['mean']) / f['std'] for n, f in FITTED.items()]).sink_parquet(out)\n",
    "inverse": POLARS_PRELUDE
    + "lf = pl.scan_parquet(src)\n"
    + "lf.with_columns([pl.col(n) * f['std'] + f['mean'] for n, f in FITTED.items()]).sink_parquet(out)\n",
}


def make_table(rows: int, seed: int):
    """20 float64 columns (column k: scale 10**(k % 10 - 3), offset up to 1e6), ~0.1% nulls,
    and one text column of short labels."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    arrays = []
    for k in range(len(FLOATS)):
        offset = 0.0 if k % 3 else 10.0 ** (k % 7)
        x = offset + rng.standard_normal(rows) * 10.0 ** (k % 10 - 3)
        x[rng.random(rows) < 0.001] = np.nan
        arrays.append(pa.array(x, from_pandas=True))
    vocab = pa.array(["alpha", "beta", "gamma delta", "epsilon, zeta", 'eta "theta"', "iota", "kappa", "lambda"])
    codes = pa.array(rng.integers(0, len(vocab), rows).astype("int32"))
    arrays.insert(10, pa.DictionaryArray.from_arrays(codes, vocab).cast(pa.string()))
    return pa.Table.from_arrays(arrays, names=[*FLOATS[:10], TEXT, *FLOATS[10:]])


def make_file(shape: str, rows: int, seed: int) -> Path:
    """The file of `shape` (see the module doc), generated once."""
    import pyarrow.parquet as pq

    DATA.mkdir(exist_ok=True)
    path = DATA / f"pqmem-{shape}-r{rows}-s{seed}.parquet"
    if path.exists():
        return path
    table = make_table(rows, seed)
    group, compression, times = {
        "one-group": (rows, "snappy", 1),
        "small-groups": (64 * 1024, "snappy", 1),
        "zstd": (rows, "zstd", 1),
        "4x-groups": (256 * 1024, "snappy", 4),
    }[shape]
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, table.schema, compression=compression) as writer:
        for _ in range(times):
            writer.write_table(table, row_group_size=group)
    tmp.rename(path)
    return path


def run_once(argv: Sequence[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one child process."""
    os.sync()
    with tempfile.TemporaryFile() as err:
        done = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], stdout=subprocess.PIPE, stderr=err, check=True)
        wall, cpu, rss, code = done.stdout.split()
        if int(code) != 0:
            err.seek(0)
            raise RuntimeError(f"{argv[:4]} exited with {code.decode()}: {err.read().decode()[-800:]}")
    return float(wall), float(cpu), int(rss) / 1024


def normcli_command() -> list[str]:
    script = Path(sys.executable).with_name("normcli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "normcli"]


def commands(task: str, src: Path, scaler: Path, out: Path) -> dict[str, list[str]]:
    normcli = normcli_command()
    ours = {
        "stats": [*normcli, "stats", str(src)],
        "fit": [*normcli, "fit", str(src), "-m", "zscore", "-o", str(out.with_suffix(".json")), "-q"],
        "transform": [*normcli, "transform", str(src), "-s", str(scaler), "-o", str(out), "-q"],
        "inverse": [*normcli, "inverse", str(src), "-s", str(scaler), "-o", str(out), "-q"],
    }[task]
    polars_out = out.with_name(out.stem + "-polars.parquet")
    theirs = [sys.executable, "-c", POLARS[task], str(src), str(scaler), str(polars_out)]
    return {"normcli": ours, "polars": theirs}


def measure_parquet_memory(
    rows: int = 1_000_000,
    repeats: int = 3,
    seed: int = 0,
    shapes: Sequence[str] = SHAPES,
    tasks: Sequence[str] = TASKS,
    say=lambda message: print(message, file=sys.stderr, flush=True),
) -> list[dict]:
    """One dict per (shape, task, tool): wall_s, cpu_s, rss_mb (medians; rss the largest),
    file_mb, max_group_mb (uncompressed), and the ratios to polars on the same row."""
    import pyarrow.parquet as pq

    out_dir = HERE / "out" / "pqmem"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for shape in shapes:
        src = make_file(shape, rows, seed)
        meta = pq.ParquetFile(src).metadata
        group_mb = max(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) / 2**20
        scaler = out_dir / f"{src.stem}.json"
        if not scaler.exists():
            subprocess.run([*normcli_command(), "fit", str(src), "-m", "zscore", "-o", str(scaler), "-q"], check=True)
        transformed = out_dir / f"{src.stem}-t.parquet"
        for task in tasks:
            if task == "inverse" and not transformed.exists():
                subprocess.run(
                    [*normcli_command(), "transform", str(src), "-s", str(scaler), "-o", str(transformed), "-q"],
                    check=True,
                )
            task_src = transformed if task == "inverse" else src
            cmds = commands(task, task_src, scaler, out_dir / f"{src.stem}-{task}.parquet")
            runs: dict[str, list[tuple[float, float, float]]] = {tool: [] for tool in cmds}
            for r in range(repeats):  # in turns, so that load drifts hit both tools alike
                for tool, argv in cmds.items():
                    say(f"{shape} {task} {tool} run {r + 1}/{repeats}")
                    runs[tool].append(run_once(argv))
            rowset = {}
            for tool, rs in runs.items():
                rowset[tool] = {
                    "shape": shape,
                    "task": task,
                    "tool": tool,
                    "file_mb": src.stat().st_size / 2**20 if task != "inverse" else transformed.stat().st_size / 2**20,
                    "max_group_mb": group_mb,
                    "wall_s": statistics.median(x[0] for x in rs),
                    "cpu_s": statistics.median(x[1] for x in rs),
                    "rss_mb": max(x[2] for x in rs),
                }
            for row in rowset.values():
                row["wall_ratio"] = row["wall_s"] / rowset["polars"]["wall_s"]
                row["rss_ratio"] = row["rss_mb"] / rowset["polars"]["rss_mb"]
                results.append(row)
    return results


def render(results: Sequence[dict]) -> str:
    head = f"{'file':<13} {'task':<10} {'tool':<8} {'file MB':>8} {'group MB':>8} {'wall s':>7} {'cpu s':>6}"
    head += f" {'x polars':>8} {'RSS MB':>7} {'x polars':>8}  target"
    lines = [head]
    for r in results:
        target = ""
        if r["tool"] == "normcli":
            bound = r["rss_ratio"] <= 1.0 and (r["max_group_mb"] > 64 or r["rss_mb"] < LIMIT_MB)
            target = "PASS" if bound else "FAIL"
        lines.append(
            f"{r['shape']:<13} {r['task']:<10} {r['tool']:<8} {r['file_mb']:8.0f} {r['max_group_mb']:8.0f} "
            f"{r['wall_s']:7.2f} {r['cpu_s']:6.2f} {r['wall_ratio']:7.2f}x "
            f"{r['rss_mb']:7.0f} {r['rss_ratio']:7.2f}x  {target}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(SHAPES), help=f"files: {','.join(SHAPES)}")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"tasks: {','.join(TASKS)}")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; rows {args.rows:,}", file=sys.stderr)
    results = measure_parquet_memory(args.rows, args.repeats, args.seed, args.only.split(","), args.tasks.split(","))
    print(json.dumps(results, indent=1) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
