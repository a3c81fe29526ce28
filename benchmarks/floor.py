"""The floor under issue 12's 1.0x targets: polars' own scripts, made to do the least that any
tool built on Python, NumPy and polars must do.

    python benchmarks/floor.py                       # every CSV shape, median of 5
    python benchmarks/floor.py --shape table,long --repeats 7
    python benchmarks/floor.py --quick               # small sizes, a smoke run

The shape matrix (shapes.py) compares normcli with polars' script for the same work. This
script asks how close a polars-based tool can come to that script at all. For each CSV shape,
in turns, each command its own process:

- `polars`: the matrix's reference (transform: scan -> fitted expressions -> sink; fit: the
  streaming mean and std of the numeric columns);
- `+ imports`: the same script, after importing what every normcli command needs before it
  reads a byte: NumPy (its core), pyarrow's CSV module (it sniffs the file's types) and Click;
- `+ Python step`: that, with a Python function called on each batch, as any tool that runs
  its own code per batch does (transform: the fitted expressions applied inside it; fit: each
  column handed to NumPy and summed, the least a NumPy statistic needs);
- `normcli -q`: the real command.

The ratios of the middle rows to `polars` are the floor: a tool that imports NumPy and runs
Python per batch cannot reach 1.0x on that shape, whatever it computes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import run as base  # benchmarks/run.py: launching, measuring
import shapes

IMPORTS = "import numpy, pyarrow.csv, click  # what every normcli command imports first\n"

TRANSFORM_STEP = base.POLARS_CSV.replace(
    'lf = lf.with_columns([(pl.col(n) - f["mean"]) / f["std"] for n, f in FITTED.items()])',
    'exprs = [(pl.col(n) - f["mean"]) / f["std"] for n, f in FITTED.items()]\n'
    "lf = lf.map_batches(lambda df: df.with_columns(exprs), streamable=True)",
)

FIT_STEP = """
import sys
import polars as pl

lf = pl.scan_csv(sys.argv[1])
names = [n for n, t in lf.collect_schema().items() if t.is_numeric()]
total = 0.0


def step(df):
    global total
    for n in names:
        total += float(df.get_column(n).cast(pl.Float64).to_numpy().sum())
    return df.head(0)


lf.select(names).map_batches(step, streamable=True).collect(engine="streaming")
"""


def rows_for(shape: shapes.Shape, path: Path, out: Path, repeats: int, normcli: list[str]) -> list[shapes.Line]:
    scaler = out / "scaler.json"
    base.run_once([*normcli, "fit", str(path), "-m", "zscore", "-o", str(scaler), "-q"])
    outs = {name: out / f"floor-{name}.csv" for name in ("polars", "imports", "step", "normcli")}
    transform = [
        ("polars", base.python_script(base.POLARS_CSV, path, scaler, outs["polars"]), outs["polars"]),
        ("+ imports", base.python_script(IMPORTS + base.POLARS_CSV, path, scaler, outs["imports"]), outs["imports"]),
        ("+ Python step", base.python_script(IMPORTS + TRANSFORM_STEP, path, scaler, outs["step"]), outs["step"]),
        (
            "normcli -q",
            [*normcli, "transform", str(path), "-s", str(scaler), "-o", str(outs["normcli"]), "-q"],
            outs["normcli"],
        ),
    ]
    fit = [
        ("polars", base.python_script(shapes.POLARS_FIT, path), None),
        ("+ imports", base.python_script(IMPORTS + shapes.POLARS_FIT, path), None),
        ("+ Python step", base.python_script(IMPORTS + FIT_STEP, path), None),
        ("normcli -q", [*normcli, "fit", str(path), "-m", "zscore", "-o", str(out / "floor-fit.json"), "-q"], None),
    ]
    target = {"normcli -q": 1.0}
    lines = shapes.with_ratios(
        shape.name, "transform CSV -> CSV", shapes.interleaved(transform, repeats, f"{shape.name} transform"), target
    )
    fit_times = shapes.interleaved(fit, repeats, f"{shape.name} fit")
    lines += shapes.with_ratios(shape.name, "fit (mean, std)", fit_times, target)
    for p in outs.values():
        p.unlink(missing_ok=True)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command; the median is shown (default 5)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--shape", help="comma-separated CSV shapes to run (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data (default 0)")
    args = parser.parse_args(argv)
    csv_shapes = [s for s in shapes.SHAPES if s.kind == "csv"]
    only = [s.strip() for s in args.shape.split(",")] if args.shape else [s.name for s in csv_shapes]
    unknown = [s for s in only if s not in {shape.name for shape in csv_shapes}]
    if unknown or args.repeats < 1:
        known = ", ".join(repr(shape.name) for shape in csv_shapes)
        parser.error(f"--shape takes some of {known}; --repeats at least 1")
    base.compile_normcli()
    normcli = base.normcli_command()
    out = base.OUT_DIR / "floor"
    out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    lines: list[shapes.Line] = []
    try:
        for shape in csv_shapes:
            if shape.name in only:
                path = shapes.shape_file(shape, args.quick, args.seed)
                base.warm_cache(path)
                lines += rows_for(shape, path, out, args.repeats, normcli)
    except base.CommandFailed as exc:
        base.say(f"error: {exc}")
        return 1
    print(f"{'quick' if args.quick else 'full'} sizes, median of {args.repeats}, load average at start {load:.2f}")
    print()
    print(shapes.markdown(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
