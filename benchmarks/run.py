"""Time normcli against its peers (pyarrow, polars, pandas + scikit-learn) and print ratios.

    python benchmarks/run.py                          # 1M rows x 21 columns, median of 3 runs
    python benchmarks/run.py --rows 100000 --repeats 1
    python benchmarks/run.py --only transform-csv,startup --keep
    python benchmarks/run.py --scale-test             # also the peak RSS on a 4x larger CSV
    python benchmarks/run.py --shapes [--quick]       # the shape matrix (benchmarks/shapes.py)

Every command runs as its own subprocess, so its wall time includes interpreter start-up and
imports, and its peak RSS is the child's own (`os.wait4`). Peers are small scripts run with the
same Python; a peer whose package is missing is skipped. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
OUT_DIR = HERE / "out" / "run"  # outputs of the benchmarked commands; removed unless --keep
DATA_VERSION = 2  # bump whenever make_table changes, so stale files are regenerated
FLOAT_COLUMNS = [f"x{k:02d}" for k in range(20)]
TEXT_COLUMN = "label"
TEXT_POSITION = 10  # the text column sits among the floats: it must pass through in place
NAN_FRACTION = 0.001
PEER_HINT = "pip install polars scikit-learn"
STARTUP_REPEATS = 10
STARTUP_LIMIT_S = 0.15
SAMPLE_ROWS = 20_000
REL_TOLERANCE = 1e-9
RSS_LIMIT_MB = 300.0
RSS_FLAT_FACTOR = 1.25  # "flat": the 4x input may take at most this much more memory

# --- peers: small scripts run as `python -c SCRIPT ARGS...` -------------------------------------

PYARROW_READ = """
import sys
import pyarrow.csv as pacsv

rows = 0
for batch in pacsv.open_csv(sys.argv[1]):
    rows += batch.num_rows
"""

# Every transform peer reads mean and std from normcli's scaler file, so all do the same work.
SCALER_PRELUDE = """
import json
import sys

src, scaler_path, out = sys.argv[1:4]
with open(scaler_path) as fh:
    FITTED = {c["name"]: c["fitted"] for c in json.load(fh)["columns"]}
"""

POLARS_CSV = (
    SCALER_PRELUDE
    + """
import polars as pl

lf = pl.scan_csv(src, schema_overrides={n: pl.Float64 for n in FITTED})
lf = lf.with_columns([(pl.col(n) - f["mean"]) / f["std"] for n, f in FITTED.items()])
lf.sink_csv(out)
"""
)

POLARS_PARQUET = (
    SCALER_PRELUDE
    + """
import polars as pl

lf = pl.scan_parquet(src)
lf = lf.with_columns([(pl.col(n) - f["mean"]) / f["std"] for n, f in FITTED.items()])
lf.sink_parquet(out)
"""
)

PANDAS_SKLEARN = (
    SCALER_PRELUDE
    + """
import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

df = pd.read_csv(src)
names = list(FITTED)
scaler = StandardScaler()
scaler.mean_ = np.array([FITTED[n]["mean"] for n in names])
scaler.scale_ = np.array([FITTED[n]["std"] for n in names])
scaler.var_ = scaler.scale_**2
scaler.n_features_in_ = len(names)
scaler.feature_names_in_ = np.array(names, dtype=object)
scaler.n_samples_seen_ = len(df)
df[names] = scaler.transform(df[names])
df.to_csv(out, index=False)
"""
)

PYARROW_NUMPY = (
    SCALER_PRELUDE
    + """
import pyarrow as pa
import pyarrow.csv as pacsv

types = {n: pa.float64() for n in FITTED}
table = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types=types))
for n, f in FITTED.items():
    i = table.schema.get_field_index(n)
    y = (table.column(i).to_numpy() - f["mean"]) / f["std"]
    table = table.set_column(i, n, pa.array(y, from_pandas=True))
pacsv.write_csv(table, out)
"""
)


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataFiles:
    """The generated inputs; `csv4x` exists only for the scale test."""

    csv: Path
    parquet: Path
    csv4x: Path | None


def data_stem(rows: int, seed: int) -> str:
    """File name stem that encodes everything the content depends on."""
    return f"bench-v{DATA_VERSION}-r{rows}-s{seed}"


def make_table(rows: int, seed: int):
    """20 float64 columns, column k ~ N(10**(k-5), 1+k) rounded to 3 decimals (so offsets run
    from 1e-5 to 1e14), ~0.1% NaN (written as empty fields), and one text column."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    arrays, names = [], []
    for k, name in enumerate(FLOAT_COLUMNS):
        x = np.round(rng.normal(10.0 ** (k - 5), 1.0 + k, rows), 3)
        x[rng.random(rows) < NAN_FRACTION] = np.nan
        arrays.append(pa.array(x, from_pandas=True))
        names.append(name)
    vocab = pa.array(["alpha", "beta", "gamma delta", "epsilon, zeta", 'eta "theta"', "iota", "kappa", "lambda"])
    codes = pa.array(rng.integers(0, len(vocab), rows).astype("int32"))
    labels = pa.DictionaryArray.from_arrays(codes, vocab).cast(pa.string())
    arrays.insert(TEXT_POSITION, labels)
    names.insert(TEXT_POSITION, TEXT_COLUMN)
    return pa.Table.from_arrays(arrays, names=names)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Build `path` under a temporary name, so an interrupted run never leaves a file to reuse."""
    tmp = path.with_name(path.name + ".partial")
    write(tmp)
    os.replace(tmp, path)


def scale_csv(src: Path, dst: Path, times: int) -> None:
    """The header of `src`, then its data rows `times` over."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fout.write(fin.readline())
        body = fin.tell()
        for _ in range(times):
            fin.seek(body)
            shutil.copyfileobj(fin, fout, 16 << 20)


def ensure_data(rows: int, seed: int, scale_test: bool) -> DataFiles:
    """Generate the inputs into benchmarks/data/, reusing files made with the same parameters."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stem = data_stem(rows, seed)
    csv, parquet = DATA_DIR / f"{stem}.csv", DATA_DIR / f"{stem}.parquet"
    csv4x = DATA_DIR / f"{stem}-x4.csv" if scale_test else None
    if not (csv.exists() and parquet.exists()):
        say(f"generating {rows:,} rows (seed {seed}) into {DATA_DIR} ...")
        table = make_table(rows, seed)
        _write_atomically(csv, lambda p: pacsv.write_csv(table, p))
        # Plain (not dictionary) float pages: the rounded values would otherwise compress to a
        # quarter, which measured data does not.
        _write_atomically(parquet, lambda p: pq.write_table(table, p, use_dictionary=[TEXT_COLUMN]))
    if csv4x is not None and not csv4x.exists():
        say(f"building the 4x CSV {csv4x.name} ...")
        _write_atomically(csv4x, lambda p: scale_csv(csv, p, 4))
    return DataFiles(csv, parquet, csv4x)


def warm_cache(path: Path) -> None:
    """Read a file once so that every tool finds it in the page cache."""
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


# --- running and measuring ------------------------------------------------------------------------


class CommandFailed(RuntimeError):
    """A benchmarked command exited with an error."""


@dataclass(frozen=True)
class Run:
    """One run of a command: wall time, CPU time (user + system, all threads) and peak RSS."""

    seconds: float
    cpu_seconds: float
    rss_mb: float


@dataclass(frozen=True)
class Timing:
    """Median wall and CPU times, and the largest peak RSS, over the repeats."""

    seconds: float
    cpu_seconds: float
    rss_mb: float


# The parent's memory would leak into the children's peak RSS: Linux keeps a process's high-water
# mark across exec, and a child forked from this (large) process starts with its RSS. So every
# command is spawned from this small launcher, which reports its child's times and peak RSS.
LAUNCHER = """
import os
import sys
import time

actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ, file_actions=actions)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
print(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_once(argv: Sequence[str], output: Path | None = None) -> Run:
    """Run a command (stdout discarded); its wall and CPU time and its own peak RSS.

    The previous run's output is removed and the disk synced first, outside the timing: a
    command would otherwise pay for freeing the last run's file and for writing back the
    pages another tool left dirty."""
    if output is not None:
        output.unlink(missing_ok=True)
    os.sync()
    with tempfile.TemporaryFile() as err:
        launched = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], stdout=subprocess.PIPE, stderr=err)
        result = launched.stdout.split()
        code = int(result[3]) if launched.returncode == 0 else launched.returncode
        if code != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
            raise CommandFailed(f"{shell_text(argv)} exited with {code}:\n  " + "\n  ".join(tail))
    return Run(float(result[0]), float(result[1]), int(result[2]) / 1024)  # ru_maxrss is in KiB on Linux


def summarize(runs: Sequence[Run]) -> Timing:
    return Timing(
        statistics.median(r.seconds for r in runs),
        statistics.median(r.cpu_seconds for r in runs),
        max(r.rss_mb for r in runs),
    )


def measure(argv: Sequence[str], repeats: int, output: Path | None = None) -> Timing:
    return summarize([run_once(argv, output) for _ in range(repeats)])


def shell_text(argv: Sequence[str]) -> str:
    """A command for messages, with peer scripts shortened."""
    return " ".join("<script>" if "\n" in a else a for a in argv)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def normcli_command() -> list[str]:
    """The installed `normcli` script next to this Python, else `python -m normcli`."""
    script = Path(sys.executable).with_name("normcli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "normcli"]


def compile_normcli() -> None:
    """Write normcli's bytecode (.pyc) before timing it, as `pip install` does. From an
    editable install, or with PYTHONDONTWRITEBYTECODE set (as on some CI and sandbox images),
    every timed run would otherwise compile normcli's modules from source: 0.1 s of each run
    that an installed copy never pays, while the peers' wheels come compiled."""
    import compileall

    spec = importlib.util.find_spec("normcli")
    for folder in spec.submodule_search_locations or [] if spec else []:
        compileall.compile_dir(folder, quiet=1)


def missing_modules(modules: Sequence[str]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


# --- results ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table."""

    task: str
    tool: str
    timing: Timing | None = None
    ratio: float | None = None
    target: str = ""
    verdict: str = ""


@dataclass(frozen=True)
class Tool:
    """A contender in a task: a name, a command, and the modules it needs."""

    name: str
    argv: list[str]
    needs: tuple[str, ...] = ()
    output: Path | None = None  # removed before each run


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def compare_tools(
    task: str, tools: Sequence[Tool], reference: str, target_ratio: float, repeats: int, subject: str = "normcli"
) -> list[Row]:
    """Time each tool; ratios are against `reference`, and `subject` must stay within `target_ratio`."""
    rows: list[Row] = []
    ready = []
    for tool in tools:
        missing = missing_modules(tool.needs)
        if missing:
            say(f"[{task}] skip {tool.name}: {', '.join(missing)} not importable ({PEER_HINT})")
            rows.append(Row(task, tool.name, verdict=f"SKIP: {PEER_HINT}"))
        else:
            ready.append(tool)
    # Round robin, so that a change of the machine's state during the task (another
    # process, the disk's writeback) falls on every tool alike.
    runs: dict[str, list[Run]] = {tool.name: [] for tool in ready}
    for i in range(repeats):
        for tool in ready:
            say(f"[{task}] {tool.name} run {i + 1} of {repeats} ...")
            runs[tool.name].append(run_once(tool.argv, tool.output))
    for tool in ready:
        t = summarize(runs[tool.name])
        say(f"[{task}] {tool.name}: {t.seconds:.2f} s, {t.rss_mb:.0f} MB")
        rows.append(Row(task, tool.name, t))
    rows.sort(key=lambda r: [t.name for t in tools].index(r.tool))
    ref = next((r.timing for r in rows if r.tool == reference and r.timing), None)
    for row in rows:
        if ref and row.timing:
            row.ratio = row.timing.seconds / ref.seconds
        if row.tool == subject:
            row.target = f"<= {target_ratio:g}x {reference}"
            row.verdict = verdict(row.ratio <= target_ratio) if row.ratio is not None else "n/a (no reference)"
    return rows


# --- the tasks ------------------------------------------------------------------------------------


@dataclass
class Context:
    """What every task needs: the inputs, the fitted scaler, where outputs go, how often to run;
    tasks add their correctness checks to `checks`."""

    data: DataFiles
    scaler: Path
    out: Path
    repeats: int
    normcli: list[str]
    checks: list[Row] = field(default_factory=list)


def python_script(script: str, *args: Path | str) -> list[str]:
    """A peer's command line: the script run by this Python, with its arguments."""
    return [sys.executable, "-c", script, *map(str, args)]


def bench_fit(ctx: Context) -> list[Row]:
    """normcli fit vs the bare cost of streaming the CSV through pyarrow."""
    tools = [
        Tool(
            "normcli", [*ctx.normcli, "fit", str(ctx.data.csv), "-m", "zscore", "-o", str(ctx.out / "fit.json"), "-q"]
        ),
        Tool("pyarrow read", python_script(PYARROW_READ, ctx.data.csv), ("pyarrow",)),
    ]
    return compare_tools("fit csv", tools, "pyarrow read", 1.2, ctx.repeats)


def bench_transform_csv(ctx: Context) -> list[Row]:
    """z-score CSV -> CSV: normcli vs polars (the reference), pyarrow + NumPy, pandas + sklearn."""
    out = {name: ctx.out / f"transform-{name}.csv" for name in ("normcli", "polars", "pyarrow", "pandas")}
    src, sc = ctx.data.csv, ctx.scaler
    tools = [
        Tool(
            "normcli",
            [*ctx.normcli, "transform", str(src), "-s", str(sc), "-o", str(out["normcli"]), "-q"],
            (),
            out["normcli"],
        ),
        Tool("polars", python_script(POLARS_CSV, src, sc, out["polars"]), ("polars",), out["polars"]),
        Tool("pyarrow+numpy", python_script(PYARROW_NUMPY, src, sc, out["pyarrow"]), ("pyarrow",), out["pyarrow"]),
        Tool(
            "pandas+sklearn",
            python_script(PANDAS_SKLEARN, src, sc, out["pandas"]),
            ("pandas", "sklearn"),
            out["pandas"],
        ),
    ]
    rows = compare_tools("transform csv", tools, "polars", 1.0, ctx.repeats)
    ctx.checks.append(check_outputs("check csv", out["normcli"], out["polars"], "csv"))
    return rows


def bench_transform_parquet(ctx: Context) -> list[Row]:
    """z-score Parquet -> Parquet: normcli vs polars."""
    out = {name: ctx.out / f"transform-{name}.parquet" for name in ("normcli", "polars")}
    src, sc = ctx.data.parquet, ctx.scaler
    tools = [
        Tool(
            "normcli",
            [*ctx.normcli, "transform", str(src), "-s", str(sc), "-o", str(out["normcli"]), "-q"],
            (),
            out["normcli"],
        ),
        Tool("polars", python_script(POLARS_PARQUET, src, sc, out["polars"]), ("polars",), out["polars"]),
    ]
    rows = compare_tools("transform parquet", tools, "polars", 1.0, ctx.repeats)
    ctx.checks.append(check_outputs("check parquet", out["normcli"], out["polars"], "parquet"))
    return rows


def bench_memory(ctx: Context) -> list[Row]:
    """Peak RSS of a CSV -> CSV transform; with --scale-test also on the 4x input, which must
    not need much more (streaming keeps memory bounded by the batch, not the file)."""
    inputs = [("1x", ctx.data.csv)] + ([("4x", ctx.data.csv4x)] if ctx.data.csv4x else [])
    rows: list[Row] = []
    for size, path in inputs:
        argv = [*ctx.normcli, "transform", str(path), "-s", str(ctx.scaler), "-o", str(ctx.out / "memory.csv"), "-q"]
        say(f"[memory] normcli transform {size} ...")
        t = measure(argv, 1, ctx.out / "memory.csv")
        ok = t.rss_mb < RSS_LIMIT_MB
        target = f"< {RSS_LIMIT_MB:.0f} MB"
        if rows:
            ok = ok and t.rss_mb <= RSS_FLAT_FACTOR * rows[0].timing.rss_mb
            target += f", <= {RSS_FLAT_FACTOR:g}x 1x"
        rows.append(Row("memory csv", f"normcli, {size} input", t, target=target, verdict=verdict(ok)))
    if not ctx.data.csv4x:
        rows.append(Row("memory csv", "normcli, 4x input", verdict="not run (--scale-test)"))
    return rows


def bench_startup(ctx: Context) -> list[Row]:
    """Start-up time of the CLI, with the bare interpreter as the floor."""
    floor = _startup(sys.executable, "-c", "pass")
    rows = [Row("startup", "python -c pass", floor, 1.0)]
    for flag in ("--version", "--help"):
        t = _startup(*ctx.normcli, flag)
        ok = t.seconds < STARTUP_LIMIT_S
        rows.append(
            Row("startup", f"normcli {flag}", t, t.seconds / floor.seconds, f"< {STARTUP_LIMIT_S:g} s", verdict(ok))
        )
    return rows


def _startup(*argv: str) -> Timing:
    say(f"[startup] {shell_text(argv)} x{STARTUP_REPEATS} ...")
    return measure(argv, STARTUP_REPEATS)


TASKS: dict[str, Callable[[Context], list[Row]]] = {
    "fit": bench_fit,
    "transform-csv": bench_transform_csv,
    "transform-parquet": bench_transform_parquet,
    "memory": bench_memory,
    "startup": bench_startup,
}


# --- correctness ----------------------------------------------------------------------------------


def read_output(path: Path, fmt: str):
    """An output file as a pyarrow Table, the scaled columns as float64."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        return pq.read_table(path)
    types = {n: pa.float64() for n in FLOAT_COLUMNS} | {TEXT_COLUMN: pa.string()}
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))


def max_rel_diff(a, b) -> float:
    """The largest |a - b| / max(|a|, |b|) over two float arrays; NaN where only one is NaN."""
    import numpy as np

    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if (nan_a != nan_b).any():
        return float("nan")
    a, b = a[~nan_a], b[~nan_b]
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(diff == 0, 0.0, diff / scale)
    return float(rel.max(initial=0.0))


def check_outputs(task: str, ours: Path, theirs: Path, fmt: str) -> Row:
    """normcli's output and polars' agree on a sample of rows (values to REL_TOLERANCE, text exactly)."""
    import numpy as np
    import pyarrow as pa

    target = f"rel diff <= {REL_TOLERANCE:g}, same text"
    if not (ours.exists() and theirs.exists()):
        return Row(task, "normcli vs polars", target=target, verdict="SKIP: no polars output")
    a, b = read_output(ours, fmt), read_output(theirs, fmt)
    if a.num_rows != b.num_rows or a.schema.names != b.schema.names:
        return Row(task, "normcli vs polars", target=target, verdict="FAIL: different shape or columns")
    rows = np.random.default_rng(0).choice(a.num_rows, min(SAMPLE_ROWS, a.num_rows), replace=False)
    a, b = a.take(rows), b.take(rows)
    worst = max(max_rel_diff(a[n].to_numpy(), b[n].to_numpy()) for n in FLOAT_COLUMNS)
    same_text = a[TEXT_COLUMN].cast(pa.string()).equals(b[TEXT_COLUMN].cast(pa.string()))
    ok = same_text and worst <= REL_TOLERANCE
    detail = f"{verdict(ok)} (max {worst:.1e}, {len(rows):,} rows)" + ("" if same_text else ", text differs")
    return Row(task, "normcli vs polars", target=target, verdict=detail)


# --- report ---------------------------------------------------------------------------------------

HEADERS = ("Task", "Tool", "Median s", "CPU s", "Ratio", "Peak RSS MB", "Target", "Result")


def cells(row: Row) -> list[str]:
    def num(value: float | None, fmt: str) -> str:
        return "" if value is None else format(value, fmt)

    ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
    t = row.timing
    seconds, cpu, rss = (t.seconds, t.cpu_seconds, t.rss_mb) if t else (None, None, None)
    return [row.task, row.tool, num(seconds, ".3f"), num(cpu, ".2f"), ratio, num(rss, ".0f"), row.target, row.verdict]


def render(rows: Sequence[Row]) -> None:
    """The table on stdout: rich if importable, else plain aligned text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        render_plain(rows)
        return
    table = Table(*HEADERS, title="normcli vs peers")
    for col in (2, 3, 4, 5):
        table.columns[col].justify = "right"
    previous = None
    for row in rows:
        if previous is not None and row.task != previous:
            table.add_section()
        table.add_row(*cells(row))
        previous = row.task
    console = Console(width=None if sys.stdout.isatty() else 150)
    console.print(table)


def render_plain(rows: Sequence[Row]) -> None:
    lines = [list(HEADERS), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def describe_setup(data: DataFiles, load: float) -> str:
    """Versions, machine and inputs, so a table can be compared with another."""

    def ver(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "-"

    tools = ", ".join(f"{d} {ver(d)}" for d in ("normcli", "pyarrow", "numpy", "polars", "pandas", "scikit-learn"))
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in (data.csv, data.parquet, data.csv4x) if p)
    return (
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average at start {load:.2f}\n{tools}\ninputs: {sizes}"
    )


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated data (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per command; the median is shown (default 3)")
    parser.add_argument("--only", help=f"comma-separated tasks to run, of: {','.join(TASKS)}")
    parser.add_argument("--keep", action="store_true", help="keep the outputs in benchmarks/out/run/")
    parser.add_argument("--scale-test", action="store_true", help="also measure peak RSS on a 4x larger CSV")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data (default 0)")
    parser.add_argument("--shapes", action="store_true", help="run the shape matrix (benchmarks/shapes.py) instead")
    parser.add_argument("--quick", action="store_true", help="with --shapes: small sizes, for a smoke run")
    parser.add_argument("--shape", help="with --shapes: comma-separated shapes to run (default: all)")
    args = parser.parse_args(argv)
    args.tasks = list(TASKS) if args.only is None else [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown or not args.tasks:
        parser.error(f"--only takes tasks of: {', '.join(TASKS)} (got {args.only!r})")
    if args.rows < 1 or args.repeats < 1:
        parser.error("--rows and --repeats must be at least 1")
    return args


def prepare_scaler(normcli: list[str], csv: Path, out: Path) -> Path:
    """The z-score scaler every transform uses (fitted once, untimed)."""
    scaler = out / "scaler.json"
    run_once([*normcli, "fit", str(csv), "-m", "zscore", "-o", str(scaler), "-q"])
    return scaler


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    compile_normcli()
    if args.shapes:
        import shapes

        only = [s.strip() for s in args.shape.split(",")] if args.shape else None
        unknown = [s for s in only or [] if s not in {shape.name for shape in shapes.SHAPES}]
        if unknown:  # a misspelt shape was skipped without a word: name it and the known ones
            known = ", ".join(repr(shape.name) for shape in shapes.SHAPES)
            print(f"error: --shape {unknown[0]!r} is not a shape; use some of {known}", file=sys.stderr)
            return 2
        return shapes.main(args.quick, args.repeats, args.seed, only)
    load = os.getloadavg()[0]  # a busy machine skews every time: say how busy it was
    normcli = normcli_command()
    data = ensure_data(args.rows, args.seed, args.scale_test)
    for path in (data.csv, data.parquet, data.csv4x):
        if path:
            warm_cache(path)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    try:
        ctx = Context(data, prepare_scaler(normcli, data.csv, OUT_DIR), OUT_DIR, args.repeats, normcli)
        for name in args.tasks:
            rows += TASKS[name](ctx)
    except CommandFailed as exc:
        say(f"error: {exc}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(OUT_DIR, ignore_errors=True)
    print(describe_setup(data, load))
    render(rows + ctx.checks)
    if (HERE / "bench_lrn.py").exists():
        print(
            "note: benchmarks/bench_lrn.py (Local Response Normalization) is run separately: "
            "python benchmarks/bench_lrn.py"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
