"""The shape matrix: normcli against polars (and pyarrow + NumPy) on data of many shapes.

    python benchmarks/run.py --shapes            # full sizes, median of 3 (long: tens of minutes)
    python benchmarks/run.py --shapes --quick    # small sizes, a smoke run of every row

A number that holds only on the data it was tuned on is not a result, so every shape is
generated with a fixed seed: the project's table, wide, narrow and long, integers only, mixed
magnitudes with large offsets, text-heavy with quoted fields, and Parquet with one row group,
many small ones, and zstd. For each, the tools run as their own processes, in turns (round
robin), and the table shows medians of wall and CPU time, the largest peak RSS, and each
row's ratio to polars doing the same work with the same fitted constants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import run as base  # benchmarks/run.py: data of the project's table, launching, measuring

SHAPES_VERSION = 1  # bump whenever a generator changes, so stale files are regenerated
TRANSFORM_TARGET = {"normcli -q": 1.0, "normcli": 1.1}  # ratio to polars, CSV -> CSV
FIT_TARGET = 1.0
STATS_TARGET = 1.0
PARQUET_TARGET = {"normcli -q": 1.0, "normcli": 1.1}

POLARS_FIT = """
import sys
import polars as pl

lf = pl.scan_csv(sys.argv[1])
names = [n for n, t in lf.collect_schema().items() if t.is_numeric()]
exprs = [e for n in names for e in (pl.col(n).mean().alias(n + " mean"), pl.col(n).std(ddof=0).alias(n + " std"))]
lf.select(exprs).collect(engine="streaming")
"""

POLARS_DESCRIBE = """
import sys
import polars as pl

pl.scan_csv(sys.argv[1]).describe()
"""


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One kind of input: a name, how it is made, and its sizes (full, quick)."""

    name: str
    what: str
    rows: tuple[int, int]
    make: Callable[[int, int], object]  # (rows, seed) -> pyarrow Table
    kind: str = "csv"  # or one of the Parquet layouts: "parquet-one", "parquet-many", "parquet-zstd"


def _floats(rng, rows: int, count: int, prefix: str, magnitude: Callable[[int], tuple[float, float]]):
    import numpy as np
    import pyarrow as pa

    arrays, names = [], []
    for k in range(count):
        centre, spread = magnitude(k)
        x = np.round(rng.normal(centre, spread, rows), 6)
        x[rng.random(rows) < base.NAN_FRACTION] = np.nan
        arrays.append(pa.array(x, from_pandas=True))
        names.append(f"{prefix}{k:03d}")
    return arrays, names


def make_wide(rows: int, seed: int):
    import numpy as np
    import pyarrow as pa

    arrays, names = _floats(np.random.default_rng(seed), rows, 300, "w", lambda k: (k, 1.0 + k % 7))
    return pa.Table.from_arrays(arrays, names=names)


def make_long(rows: int, seed: int):
    import numpy as np
    import pyarrow as pa

    arrays, names = _floats(np.random.default_rng(seed), rows, 3, "n", lambda k: (10.0**k, 1.0 + k))
    return pa.Table.from_arrays(arrays, names=names)


def make_ints(rows: int, seed: int):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    arrays = [pa.array(rng.integers(-(10 ** (k + 3)), 10 ** (k + 3) + 1, rows)) for k in range(1, 11)]
    return pa.Table.from_arrays(arrays, names=[f"i{k:02d}" for k in range(10)])


def make_mixed(rows: int, seed: int):
    """20 floats with magnitudes from 1e-3 to 1e6 on offsets up to 1e6, and one text column."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)

    def magnitude(k: int) -> tuple[float, float]:
        return (1e6 if k % 2 else 0.0) + 10.0 ** (k % 10 - 3), 10.0 ** (k % 10 - 3)

    arrays, names = _floats(rng, rows, 20, "m", magnitude)
    vocab = pa.array(["north", "south", "east", "west", "centre"])
    text = pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 5, rows).astype("int32")), vocab)
    arrays.append(text.cast(pa.string()))
    names.append("region")
    return pa.Table.from_arrays(arrays, names=names)


def make_text(rows: int, seed: int):
    """Half text: 8 float columns and 8 text columns whose fields need quotes (commas, quotes)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    arrays, names = _floats(rng, rows, 8, "f", lambda k: (10.0**k, 1.0))
    vocab = pa.array(
        ["Smith, John", 'the "big" one', "plain", "a, b, c", "ünïcödé", "São Paulo, BR", "x", 'say "hi", then go']
    )
    for k in range(8):
        codes = pa.array(rng.integers(0, len(vocab), rows).astype("int32"))
        arrays.insert(2 * k + 1, pa.DictionaryArray.from_arrays(codes, vocab).cast(pa.string()))
        names.insert(2 * k + 1, f"t{k}")
    return pa.Table.from_arrays(arrays, names=names)


FULL_1M, QUICK_1M = 1_000_000, 50_000
SHAPES = [
    Shape(
        "table", "the project's table: 20 floats (offsets 1e-5..1e14) + 1 text", (FULL_1M, QUICK_1M), base.make_table
    ),
    Shape("wide", "300 float columns", (100_000, 5_000), make_wide),
    Shape("long", "3 float columns, many rows", (10_000_000, 500_000), make_long),
    Shape("ints", "10 integer columns", (FULL_1M, QUICK_1M), make_ints),
    Shape("mixed", "20 floats, magnitudes 1e-3..1e6, offsets 1e6, + 1 text", (FULL_1M, QUICK_1M), make_mixed),
    Shape("text", "8 floats + 8 quoted text columns (commas, quotes)", (500_000, 25_000), make_text),
    Shape(
        "pq one group",
        "mixed as Parquet, one row group (pandas' default)",
        (FULL_1M, QUICK_1M),
        make_mixed,
        "parquet-one",
    ),
    Shape(
        "pq small groups",
        "mixed as Parquet, row groups of 10,000 rows",
        (FULL_1M, QUICK_1M),
        make_mixed,
        "parquet-many",
    ),
    Shape("pq zstd", "mixed as Parquet, zstd-compressed", (FULL_1M, QUICK_1M), make_mixed, "parquet-zstd"),
]


def shape_file(shape: Shape, quick: bool, seed: int) -> Path:
    """The shape's input in benchmarks/data/, generated once per version, size and seed."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows = shape.rows[1] if quick else shape.rows[0]
    ext = "csv" if shape.kind == "csv" else "parquet"
    tag = shape.kind.removeprefix("parquet-") if shape.kind != "csv" else shape.name
    path = base.DATA_DIR / f"shape-v{SHAPES_VERSION}-{tag}-r{rows}-s{seed}.{ext}"
    if path.exists():
        return path
    base.DATA_DIR.mkdir(parents=True, exist_ok=True)
    base.say(f"generating {shape.name}: {rows:,} rows into {path.name} ...")
    table = shape.make(rows, seed)
    if shape.kind == "csv":
        base._write_atomically(path, lambda p: pacsv.write_csv(table, p))
    elif shape.kind == "parquet-one":
        base._write_atomically(path, lambda p: pq.write_table(table, p, row_group_size=table.num_rows))
    elif shape.kind == "parquet-many":
        base._write_atomically(path, lambda p: pq.write_table(table, p, row_group_size=10_000))
    else:
        base._write_atomically(path, lambda p: pq.write_table(table, p, compression="zstd"))
    return path


# --- running ----------------------------------------------------------------------------------


@dataclass
class Line:
    """One row of the matrix."""

    shape: str
    task: str
    tool: str
    timing: base.Timing
    ratio: float | None = None
    target: float | None = None


def interleaved(
    tools: Sequence[tuple[str, list[str], Path | None]], repeats: int, label: str
) -> dict[str, base.Timing]:
    """Each tool `repeats` times, in turns; the median wall and CPU times and the peak RSS."""
    runs: dict[str, list[base.Run]] = {name: [] for name, _, _ in tools}
    for i in range(repeats):
        for name, argv, output in tools:
            base.say(f"[{label}] {name} run {i + 1} of {repeats} ...")
            runs[name].append(base.run_once(argv, output))
    return {name: base.summarize(r) for name, r in runs.items()}


def with_ratios(shape: str, task: str, timings: dict[str, base.Timing], targets: dict[str, float]) -> list[Line]:
    ref = timings.get("polars")
    lines = []
    for tool, t in timings.items():
        ratio = t.seconds / ref.seconds if ref else None
        lines.append(Line(shape, task, tool, t, ratio, targets.get(tool)))
    return lines


def bench_shape(shape: Shape, path: Path, out: Path, repeats: int, normcli: list[str]) -> list[Line]:
    """transform (and, for CSV, fit and stats) on one input; polars is every row's reference."""
    scaler = out / "scaler.json"
    base.run_once([*normcli, "fit", str(path), "-m", "zscore", "-o", str(scaler), "-q"])
    ext = path.suffix
    outs = {name: out / f"{name.replace(' ', '_')}{ext}" for name in ("normcli", "normcli-q", "polars", "pyarrow")}
    transform = [*normcli, "transform", str(path), "-s", str(scaler), "-o"]
    polars_script = base.POLARS_CSV if ext == ".csv" else base.POLARS_PARQUET
    tools = [
        ("normcli", [*transform, str(outs["normcli"])], outs["normcli"]),
        ("normcli -q", [*transform, str(outs["normcli-q"]), "-q"], outs["normcli-q"]),
        ("polars", base.python_script(polars_script, path, scaler, outs["polars"]), outs["polars"]),
    ]
    if ext == ".csv":
        tools.append(
            ("pyarrow+numpy", base.python_script(base.PYARROW_NUMPY, path, scaler, outs["pyarrow"]), outs["pyarrow"])
        )
    task = "transform CSV -> CSV" if ext == ".csv" else "transform Parquet -> Parquet"
    targets = TRANSFORM_TARGET if ext == ".csv" else PARQUET_TARGET
    lines = with_ratios(shape.name, task, interleaved(tools, repeats, f"{shape.name} transform"), targets)
    if ext == ".csv":
        fit = [
            ("normcli", [*normcli, "fit", str(path), "-m", "zscore", "-o", str(out / "fit.json"), "-q"], None),
            ("polars", base.python_script(POLARS_FIT, path), None),
        ]
        lines += with_ratios(
            shape.name, "fit (mean, std)", interleaved(fit, repeats, f"{shape.name} fit"), {"normcli": FIT_TARGET}
        )
        stats = [
            ("normcli", [*normcli, "stats", str(path), "--json"], None),
            ("polars", base.python_script(POLARS_DESCRIBE, path), None),
        ]
        lines += with_ratios(
            shape.name,
            "stats / describe",
            interleaved(stats, repeats, f"{shape.name} stats"),
            {"normcli": STATS_TARGET},
        )
    for p in outs.values():
        p.unlink(missing_ok=True)
    return lines


# --- the table --------------------------------------------------------------------------------


def markdown(lines: Sequence[Line]) -> str:
    head = "| shape | task | tool | median s | CPU s | peak RSS MB | ratio to polars | target | result |"
    rows = [head, "|" + "---|" * 9]
    for ln in lines:
        ratio = f"{ln.ratio:.2f}x" if ln.ratio is not None else ""
        target, result = "", ""
        if ln.target is not None and ln.ratio is not None:
            target = f"<= {ln.target:g}x"
            result = "PASS" if ln.ratio <= ln.target else "FAIL"
        if ln.tool.startswith("normcli") and ln.task.startswith("transform CSV"):
            rss_ok = ln.timing.rss_mb < base.RSS_LIMIT_MB
            target += f", < {base.RSS_LIMIT_MB:.0f} MB"
            result = (result + ", " if result else "") + ("PASS" if rss_ok else "FAIL")
        tool = f"**{ln.tool}**" if ln.tool.startswith("normcli") else ln.tool
        t = ln.timing
        rows.append(
            f"| {ln.shape} | {ln.task} | {tool} | {t.seconds:.2f} | {t.cpu_seconds:.2f} | {t.rss_mb:.0f} | "
            f"{ratio} | {target} | {result} |"
        )
    return "\n".join(rows)


def slowest(lines: Sequence[Line]) -> str:
    """The closing note: the normcli row with the largest ratio to polars."""
    mine = [ln for ln in lines if ln.tool.startswith("normcli") and ln.ratio is not None]
    if not mine:
        return ""
    worst = max(mine, key=lambda ln: ln.ratio or 0.0)
    return f"slowest normcli row: {worst.shape}, {worst.task}, {worst.tool}: {worst.ratio:.2f}x polars"


def main(quick: bool, repeats: int, seed: int, only: Sequence[str] | None = None) -> int:
    import os

    load = os.getloadavg()[0]
    normcli = base.normcli_command()
    out = base.OUT_DIR / "shapes"
    out.mkdir(parents=True, exist_ok=True)
    lines: list[Line] = []
    sizes = []
    try:
        for shape in SHAPES:
            if only and shape.name not in only:
                continue
            path = shape_file(shape, quick, seed)
            base.warm_cache(path)
            sizes.append(f"{shape.name} {path.stat().st_size / 1e6:.0f} MB")
            lines += bench_shape(shape, path, out, repeats, normcli)
    except base.CommandFailed as exc:
        base.say(f"error: {exc}")
        return 1
    print(
        f"{'quick' if quick else 'full'} sizes, median of {repeats}, load average at start {load:.2f}; inputs: "
        + ", ".join(sizes)
    )
    print()
    print(markdown(lines))
    print()
    print(slowest(lines))
    return 0
