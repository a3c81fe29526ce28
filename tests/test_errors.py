"""The bad-input catalogue (issue #5): every mistake a user can make, run through `normcli` (in the
test process, and a sample of the cases also through the console script: see PROCESS_SAMPLE).

Each case builds its files in a fresh folder, runs one command there and expects exit code 1 (bad
data) or 2 (bad usage), one `error:` line on stderr that names the file, column or value at fault,
no traceback, and the folder exactly as it was: no output file, no temp file, every input (and a
pre-existing output, for the cases marked `clobber`) byte for byte unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import math
import os
import re
import stat
import subprocess
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import normcli

from conftest import ALL_IN_PROCESSES, NORMCLI, REPO, Run, assert_clean_error, run, run_process
from inprocess import invoke

PRECIOUS = b"precious bytes that a failed command must not touch\n"
TEMP_GLOB = ".*.normcli-tmp"

# --- the inputs ------------------------------------------------------------------------------------

HEADER = "id,city,price,rooms\n"
ROWS = "H1,Porto,100000,3\nH2,Faro,250000,4\nH3,Lisboa,175000,2\n"
CSV = HEADER + ROWS


def _table_scaler(method: str, **options) -> dict:
    data = {
        "id": np.array(["H1", "H2", "H3"]),
        "city": np.array(["Porto", "Faro", "Lisboa"]),
        "price": np.array([100000.0, 250000.0, 175000.0]),
        "rooms": np.array([3.0, 4.0, 2.0]),
    }
    return normcli.fit(data, method, **options).to_dict()


ZSCORE = _table_scaler("zscore")
MINMAX = _table_scaler("minmax")
RECIPROCAL = _table_scaler("reciprocal")
ATAN = _table_scaler("atan")
NUMERIC_ZSCORE = normcli.fit({"price": np.array([1.0, 2.0]), "rooms": np.array([3.0, 5.0])}, "zscore").to_dict()
ARRAY_2D = normcli.fit(np.arange(15.0).reshape(5, 3), "minmax").to_dict()


def edited(scaler: dict, change: Callable[[dict], object]) -> str:
    data = json.loads(json.dumps(scaler))
    change(data)
    return json.dumps(data, indent=2)


def column_of(data: dict, name: str) -> dict:
    return next(c for c in data["columns"] if c["name"] == name)


def big_csv(bad_tail: str = "", rows: int = 600_000, header: str = HEADER, row: str = "H1,Porto,100000,3\n") -> bytes:
    """~11 MB: more than the sniffed head (1 MiB) and than one parsed block (8 MiB), so the
    bad tail is met after the first batch has been written."""
    return (header + row * rows + bad_tail).encode()


def big_file(*args, **kwargs) -> Callable[[Path], None]:
    """A setup step writing `big_csv(...)`, built only when the case runs."""
    return lambda path: path.write_bytes(big_csv(*args, **kwargs))


def parquet_bytes(table: pa.Table | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    table = table or pa.table({"price": np.arange(5000.0), "rooms": np.arange(5000.0) % 7})
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def corrupt_parquet() -> bytes:
    """Valid magic and footer, garbage data pages."""
    data = bytearray(parquet_bytes())
    rng = np.random.default_rng(0)
    data[8:-200] = rng.integers(0, 256, len(data) - 208, dtype=np.uint8).tobytes()
    return bytes(data)


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


ACTS = np.random.default_rng(0).random((2, 6, 4, 4)).astype(np.float32)


# --- setups: functions that make files in the case's folder ------------------------------------------

Setup = Callable[[Path], None]


def files(spec: dict[str, str | bytes | Callable[[Path], None]]) -> Setup:
    """A setup writing each name -> text, bytes, or calling name -> function(path)."""

    def setup(folder: Path) -> None:
        for name, content in spec.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(content):
                content(path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)

    return setup


def with_data(**extra: str | bytes | Callable[[Path], None]) -> Setup:
    """data.csv and the z-score scaler s.json it was fitted on, plus `extra` files (name with `__` for `.`)."""
    return files({"data.csv": CSV, "s.json": json.dumps(ZSCORE), **{k.replace("__", "."): v for k, v in extra.items()}})


def directory(path: Path) -> None:
    path.mkdir()


DEVICES = {(1, 7): "/dev/full", (1, 3): "/dev/null"}


def char_device(major: int, minor: int) -> Callable[[Path], None]:
    """A private copy of a device node (e.g. /dev/full is 1, 7), so that a command that replaced its
    output file instead of writing into it would destroy only this copy, not the system's."""

    def make(path: Path) -> None:
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        except PermissionError:  # not root: point at the real device, which we cannot replace anyway
            path.symlink_to(DEVICES[major, minor])

    return make


# --- the catalogue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    argv: tuple[str, ...]
    code: int
    fragments: tuple[str, ...]
    stdin: bytes | None = None
    clobber: bool = False  # also run with a pre-existing output file that must survive
    streams: bool = False  # writes data to stdout before the fault shows: stdout may hold a partial result
    process: bool = False  # names this process's own streams by a path (/proc/self/fd/1): run only as a process

    @property
    def output(self) -> str | None:
        argv = list(self.argv)
        return argv[argv.index("-o") + 1] if "-o" in argv else None


def case(id: str, setup: Setup, argv: str | tuple[str, ...], code: int, *fragments: str, **kw) -> Case:
    return Case(id, setup, tuple(argv.split()) if isinstance(argv, str) else argv, code, fragments, **kw)


NPY_4D = files({"acts.npy": npy_bytes(ACTS)})
LRN = "lrn acts.npy -o out.npy "

CASES = [
    # --- the input file itself
    case("missing-input", files({}), "fit nope.csv -m zscore -o out.json", 1, "nope.csv", "no such file"),
    case("directory-input", files({"adir.csv": directory}), "fit adir.csv -m zscore -o out.json", 1, "adir.csv"),
    case("empty-file", files({"empty.csv": ""}), "fit empty.csv -m zscore -o out.json", 1, "empty.csv", "empty"),
    case("header-only", files({"h.csv": HEADER}), "fit h.csv -m zscore -o out.json", 1, "h.csv", "no data rows"),
    case(
        "header-only-transform",
        with_data(h__csv=HEADER),
        "transform h.csv -s s.json -o out.csv",
        1,
        "h.csv",
        "no data rows",
    ),
    case(
        "ragged-row",
        files({"r.csv": HEADER + "H1,Porto,100000,3\nH2,Faro,250000\n"}),
        "fit r.csv -m zscore -o out.json",
        1,
        "r.csv",
        "3 fields",
        "4",
    ),
    case(
        "ragged-row-far-down",
        with_data(r__csv=big_file("H9,Faro,1,2,3,4\n")),
        "transform r.csv -s s.json -o out.csv",
        1,
        "r.csv",
        "6 fields",
    ),
    case(
        "latin1-in-text-column",
        with_data(l__csv=(HEADER + "H1,M\xe1laga,100000,3\n").encode("latin-1")),
        "transform l.csv -s s.json -o out.csv",
        1,
        "l.csv",
        "UTF-8",
        clobber=True,
    ),
    case(
        "latin1-in-scaled-column",
        with_data(l__csv=(HEADER + "H1,Porto,100000,3\nH2,Faro,25\xa30,4\n").encode("latin-1")),
        "transform l.csv -s s.json -o out.csv",
        1,
        "l.csv",
        "'price'",
    ),
    case(
        "latin1-in-scaled-column-fit",
        files({"l.csv": (HEADER + "H1,Porto,100000,3\nH2,Faro,25\xa30,4\n").encode("latin-1")}),
        "fit l.csv -m zscore --columns price -o out.json",
        1,
        "l.csv",
        "'price'",
    ),
    case(
        "latin1-in-header",
        files({"l.csv": "id,pr\xe9ce,rooms\nH1,1,2\n".encode("latin-1")}),
        "fit l.csv -m zscore -o out.json",
        1,
        "l.csv",
        "UTF-8",
    ),
    case(
        "latin1-in-header-stats",
        files({"l.csv": "id;r\xe9gion\n1;2\n".encode("latin-1")}),
        "stats l.csv",
        1,
        "l.csv",
        "UTF-8",
    ),
    case("unknown-extension", files({"data.xlsx": CSV}), "fit data.xlsx -m zscore", 2, "data.xlsx", "--format"),
    case(
        "parquet-read-as-csv",
        files({"d.parquet": parquet_bytes()}),
        "fit d.parquet --format csv -m zscore -o out.json",
        1,
        "d.parquet",
    ),
    case(
        "csv-read-as-parquet",
        files({"d.csv": CSV}),
        "fit d.csv --format parquet -m zscore -o out.json",
        1,
        "d.csv",
        "Parquet",
    ),
    case("csv-read-as-npy", files({"d.csv": CSV}), "fit d.csv --format npy -m zscore -o out.json", 1, "d.csv", ".npy"),
    case(
        "corrupt-parquet",
        with_data(c__parquet=corrupt_parquet()),
        "fit c.parquet -m zscore -o out.json",
        1,
        "c.parquet",
        "Parquet",
    ),
    case(
        "truncated-parquet",
        files({"t.parquet": parquet_bytes()[:-300]}),
        "fit t.parquet -m zscore -o out.json",
        1,
        "t.parquet",
        "Parquet",
    ),
    case(
        "truncated-npy",
        files({"t.npy": npy_bytes(np.ones((100, 3)))[:-50]}),
        "fit t.npy -m zscore -o out.json",
        1,
        "t.npy",
        "truncated",
    ),
    case(
        "npy-header-only",
        files({"t.npy": npy_bytes(np.ones((100, 3)))[:40]}),
        "stats t.npy",
        1,
        "t.npy",
    ),
    case(
        "npy-damaged-header",
        files({"d.npy": npy_bytes(np.ones((3, 4))).replace(b"(3, 4)", b"(3, 4 ", 1)}),
        "stats d.npy",
        1,
        "d.npy",
        "header",
    ),
    case(
        "object-npy",
        files({"o.npy": npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)}),
        "fit o.npy -m zscore -o out.json",
        1,
        "o.npy",
        "pickle",
    ),
    case(
        "structured-npy",
        files({"s.npy": npy_bytes(np.zeros(4, dtype=[("a", "f8"), ("b", "i4")]))}),
        "fit s.npy -m zscore -o out.json",
        1,
        "s.npy",
        "dtype",
    ),
    case(
        "npz-to-fit",
        files({"a.npz": npz_bytes(x=np.ones((3, 2)))}),
        "fit a.npz -m zscore -o out.json",
        2,
        "a.npz",
        ".npy",
    ),
    # --- the scaler file
    case("scaler-missing", with_data(), "transform data.csv -s nope.json -o out.csv", 1, "nope.json", "no such file"),
    case("scaler-empty", with_data(e__json=""), "transform data.csv -s e.json -o out.csv", 1, "e.json", "empty"),
    case(
        "scaler-not-json",
        with_data(bad__json="price: zscore\n"),
        "transform data.csv -s bad.json -o out.csv",
        1,
        "bad.json",
        "JSON",
        clobber=True,
    ),
    case(
        "scaler-truncated",
        with_data(t__json=json.dumps(ZSCORE, indent=2)[:300]),
        "transform data.csv -s t.json -o out.csv",
        1,
        "t.json",
        "JSON",
    ),
    case(
        "scaler-of-another-format",
        with_data(o__json=edited(ZSCORE, lambda d: d.update(format="sklearn-pipeline"))),
        "transform data.csv -s o.json -o out.csv",
        1,
        "o.json",
        "sklearn-pipeline",
    ),
    case(
        "scaler-unknown-version",
        with_data(v__json=edited(ZSCORE, lambda d: d.update(version=7))),
        "transform data.csv -s v.json -o out.csv",
        1,
        "v.json",
        "version 7",
        "upgrade",
    ),
    case(
        "scaler-string-for-a-number",
        with_data(w__json=edited(ZSCORE, lambda d: column_of(d, "price")["fitted"].update(mean="175000"))),
        "transform data.csv -s w.json -o out.csv",
        1,
        "w.json",
        "'price'",
        "mean",
    ),
    case(
        "scaler-number-too-big",
        with_data(b__json=edited(ZSCORE, lambda d: column_of(d, "price")["fitted"].update(mean=10**400))),
        "transform data.csv -s b.json -o out.csv",
        1,
        "b.json",
        "'price'",
        "mean",
    ),
    case(
        "scaler-nan-literal",
        with_data(n__json=json.dumps(ZSCORE).replace('"std": ', '"std": NaN, "x": ', 1)),
        "transform data.csv -s n.json -o out.csv",
        1,
        "n.json",
        "NaN",
    ),
    case(
        "scaler-unknown-method",
        with_data(m__json=edited(ZSCORE, lambda d: column_of(d, "rooms").update(method="rank"))),
        "transform data.csv -s m.json -o out.csv",
        1,
        "m.json",
        "'rooms'",
        "rank",
    ),
    case(
        "scaler-max-below-min",
        with_data(m__json=edited(MINMAX, lambda d: column_of(d, "price")["fitted"].update(min=9e9))),
        "transform data.csv -s m.json -o out.csv",
        1,
        "m.json",
        "'price'",
        "min",
        "max",
        clobber=True,
    ),
    case(
        "scaler-negative-std",
        with_data(n__json=edited(ZSCORE, lambda d: column_of(d, "rooms")["fitted"].update(std=-0.5))),
        "inverse data.csv -s n.json -o out.csv",
        1,
        "n.json",
        "'rooms'",
        "std",
        "-0.5",
    ),
    case(
        "scaler-column-missing-from-input",
        with_data(p__csv="id,city,price\nH1,Porto,1\n"),
        "transform p.csv -s s.json -o out.csv",
        1,
        "p.csv",
        "'rooms'",
        clobber=True,
    ),
    # --- the values
    case(
        "text-in-scaled-column",
        with_data(t__csv=HEADER + "H1,Porto,100000,3\nH2,Faro,n/a-yet,4\n"),
        "transform t.csv -s s.json -o out.csv",
        1,
        "t.csv",
        "'price'",
        "n/a-yet",
    ),
    case(
        "text-in-scaled-column-fit",
        files({"t.csv": HEADER + "H1,Porto,100000,3\nH2,Faro,n/a-yet,4\n"}),
        "fit t.csv -m zscore --columns price,rooms -o out.json",
        1,
        "t.csv",
        "'price'",
    ),
    case(
        "text-far-down-transform",
        with_data(big__csv=big_file("H9,Faro,oops,3\n")),
        "transform big.csv -s s.json -o out.csv",
        1,
        "big.csv",
        "'price'",
        "oops",
        clobber=True,
    ),
    case(
        "text-far-down-to-npy",
        files(
            {
                "big.csv": big_file("100000,oops\n", header="price,rooms\n", row="100000,3\n"),
                "s.json": json.dumps(NUMERIC_ZSCORE),
            }
        ),
        "transform big.csv -s s.json -o out.npy",
        1,
        "big.csv",
        "'rooms'",
        "oops",
        clobber=True,
    ),
    case(
        "text-far-down-fit",
        files({"big.csv": big_file("H9,Faro,oops,3\n")}),
        "fit big.csv -m zscore -o out.json",
        1,
        "big.csv",
        "'price'",
        "oops",
        clobber=True,
    ),
    case(
        "text-far-down-stdout",
        with_data(big__csv=big_file("H9,Faro,oops,3\n")),
        "transform big.csv -s s.json",
        1,
        "big.csv",
        "'price'",
        "oops",
        streams=True,
    ),
    case(
        "all-nan-column",
        files({"n.csv": "x,y\n1,NaN\n2,nan\n3,\n"}),
        "fit n.csv -m zscore --columns x,y -o out.json",
        1,
        "'y'",
        "no finite values",  # as for .npy below: the column is empty, not text
    ),
    case(
        "all-nan-npy-column",
        files({"n.npy": npy_bytes(np.column_stack([np.arange(4.0), np.full(4, np.nan)]))}),
        "fit n.npy -m minmax -o out.json",
        1,
        "'1'",
        "no finite values",
    ),
    case(
        "inf-in-zscore-fit",
        files({"i.csv": "x,y\n1,2\ninf,3\n4,5\n"}),
        "fit i.csv -m zscore -o out.json",
        1,
        "'x'",
        "infinite",
    ),
    case(
        "log-of-zero",
        files({"l.csv": "x\n5\n0\n3\n"}),
        "fit l.csv -m log -o out.json",
        1,
        "'x'",
        "<= 0",
        "--log-offset",
    ),
    case(
        "log-of-negative-at-transform",
        files({"l.csv": "x\n5\n-2\n3\n", "s.json": normcli.fit({"x": np.array([1.0, 10.0])}, "log").to_json()}),
        "transform l.csv -s s.json -o out.csv",
        1,
        "'x'",
        "e.g. -2.0",  # the value as the user wrote it, as `fit` shows it (not NumPy's repr)
    ),
    case(
        "reciprocal-at-minus-one",
        files({"r.csv": "x\n5\n-1\n3\n"}),
        "fit r.csv -m reciprocal -o out.json",
        1,
        "'x'",
        "-1",
    ),
    case(
        "reciprocal-at-minus-one-transform",
        files({"r.csv": "price,rooms,id,city\n5,1,a,b\n-1,2,c,d\n", "s.json": json.dumps(RECIPROCAL)}),
        "transform r.csv -s s.json -o out.csv",
        1,
        "'price'",
        "e.g. -1.0",
        clobber=True,
    ),
    case(
        "atan-inverse-outside-its-range",
        files({"y.csv": "price,rooms,id,city\n0.5,1.5,a,b\n", "s.json": json.dumps(ATAN)}),
        "inverse y.csv -s s.json -o out.csv",
        1,
        "'rooms'",
        "e.g. 1.5",
    ),
    case(
        "ddof-needs-more-rows",
        files({"d.csv": "x\n1\n2\n"}),
        "fit d.csv -m zscore --ddof 2 -o out.json",
        1,
        "'x'",
        "--ddof",
    ),
    case(
        "duplicate-column-names",
        files({"d.csv": "a,b,a\n1,2,3\n4,5,6\n"}),
        "fit d.csv -m zscore -o out.json",
        1,
        "d.csv",
        "'a'",
    ),
    case(
        "duplicate-column-names-parquet",
        files({"d.parquet": parquet_bytes(pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0])], ["a", "a"]))}),
        "stats d.parquet",
        1,
        "d.parquet",
        "'a'",
    ),
    # stats describes text columns too (issue 11.5), so the file without numbers is fit's mistake
    case("no-numeric-columns", files({"t.csv": "a,b\nx,y\n"}), "fit t.csv -m zscore", 1, "t.csv", "numeric"),
    case(
        "text-column-to-npy-output",
        with_data(),
        "transform data.csv -s s.json -o out.npy",
        2,
        "'id'",
        ".npy",
        clobber=True,
    ),
    # --- where the output goes
    case("output-folder-missing", with_data(), "transform data.csv -s s.json -o no/out.csv", 2, "no", "not exist"),
    case("output-onto-input", with_data(), "transform data.csv -s s.json -o data.csv", 2, "data.csv", "input"),
    case("output-onto-scaler", with_data(), "transform data.csv -s s.json -o s.json", 2, "s.json", "input"),
    case("fit-output-onto-input", with_data(), "fit data.csv -m zscore -o data.csv", 2, "data.csv", "input"),
    case(
        "output-symlink-to-input",
        with_data(link__csv=lambda p: p.symlink_to("data.csv")),
        "transform data.csv -s s.json -o link.csv",
        2,
        "link.csv",
        "input",
    ),
    case("output-empty-name", with_data(), ("transform", "data.csv", "-s", "s.json", "-o", ""), 2, "-o"),
    case(
        "stats-json-same-as-output",
        with_data(),
        "fit data.csv -m zscore -o out.json --stats-json out.json",
        2,
        "out.json",
        "--stats-json",
        clobber=True,
    ),
    case(
        "stats-json-same-as-transform-output",
        with_data(),
        "transform data.csv -s s.json -o out.csv --stats-json out.csv",
        2,
        "out.csv",
        "--stats-json",
    ),
    case("stats-json-onto-input", with_data(), "fit data.csv -m zscore --stats-json data.csv", 2, "data.csv"),
    case("output-is-a-directory", with_data(odir=directory), "transform data.csv -s s.json -o odir", 2, "odir"),
    case(
        "stats-json-folder-missing",
        with_data(),
        "fit data.csv -m zscore -o out.json --stats-json no/st.json",
        2,
        "no",
        "not exist",
    ),
    case(
        "disk-full-transform",
        with_data(full__csv=char_device(1, 7)),
        "transform data.csv -s s.json -o full.csv",
        1,
        "full.csv",
        "No space left",
    ),
    case(
        "disk-full-fit",
        with_data(full__json=char_device(1, 7)),
        "fit data.csv -m zscore -o full.json",
        1,
        "full.json",
        "No space left",
    ),
    # --- option values: fit
    case("range-equal", with_data(), "fit data.csv -m minmax --range 1 1 -o out.json", 2, "--range"),
    case("range-inf", with_data(), "fit data.csv -m minmax --range 0 inf -o out.json", 2, "--range", "inf"),
    case("range-with-zscore", with_data(), "fit data.csv -m zscore --range 0 1 -o out.json", 2, "--range", "minmax"),
    case("ddof-negative", with_data(), "fit data.csv -m zscore --ddof -1 -o out.json", 2, "--ddof", "-1"),
    case("base-one", with_data(), "fit data.csv -m log --base 1 -o out.json", 2, "--base", "> 1"),
    case("base-negative", with_data(), "fit data.csv -m log --base -2 -o out.json", 2, "--base", "-2"),
    case("log-offset-nan", with_data(), "fit data.csv -m log --log-offset nan -o out.json", 2, "--log-offset", "nan"),
    case("invalid-bogus", with_data(), "fit data.csv -m log --invalid bogus -o out.json", 2, "--invalid", "bogus"),
    case("unknown-method", with_data(), "fit data.csv -m rank -o out.json", 2, "rank", "zscore"),
    case("two-default-methods", with_data(), "fit data.csv -m zscore -m minmax -o out.json", 2, "COLUMN=METHOD"),
    case("method-without-column", with_data(), ("fit", "data.csv", "-m", "=log", "-o", "out.json"), 2, "=log"),
    case("columns-unknown", with_data(), "fit data.csv -m zscore --columns price,area -o out.json", 2, "'area'"),
    case("columns-empty-name", with_data(), "fit data.csv -m zscore --columns price,,rooms", 2, "'price,,rooms'"),
    case("columns-text", with_data(), "fit data.csv -m zscore --columns price,city -o out.json", 1, "'city'"),
    case("exclude-unknown", with_data(), "fit data.csv -m zscore --exclude nope -o out.json", 2, "--exclude", "'nope'"),
    case("exclude-everything", with_data(), "fit data.csv -m zscore --exclude price,rooms", 1, "--exclude"),
    case("stats-columns-unknown", with_data(), "stats data.csv --columns area", 2, "'area'"),
    case("format-bogus", with_data(), "fit data.csv --format xlsx -m zscore -o out.json", 2, "--format", "xlsx"),
    case("dtype-bogus", with_data(), "transform data.csv -s s.json --dtype float16 -o out.csv", 2, "float16"),
    case("output-extension-unknown", with_data(), "transform data.csv -s s.json -o out.xlsx", 2, "out.xlsx"),
    # --- arrays and axes
    case("axis-on-csv", with_data(), "fit data.csv -m zscore --axis 1 -o out.json", 2, "--axis", "data.csv"),
    case("nd-npy-without-axis", NPY_4D, "fit acts.npy -m zscore -o out.json", 2, "acts.npy", "--axis"),
    case("axis-out-of-range", NPY_4D, "fit acts.npy -m zscore --axis 4 -o out.json", 2, "--axis 4", "acts.npy"),
    case(
        "transform-npy-of-another-layout",
        files({"s.json": json.dumps(ARRAY_2D), "x.npy": npy_bytes(np.ones((4, 3, 2)))}),
        "transform x.npy -s s.json -o out.npy",
        1,
        "x.npy",
        "axis",
        clobber=True,
    ),
    case(
        "transform-npy-with-a-table-scaler",
        files({"s.json": json.dumps(ZSCORE), "x.npy": npy_bytes(np.ones((4, 3)))}),
        "transform x.npy -s s.json -o out.npy",
        1,
        "x.npy",
        "'price'",
    ),
    case("stdin-twice", with_data(), "transform - -s - -o out.csv", 2, "stdin", stdin=CSV.encode()),
    # --- lrn
    case("lrn-size-zero", NPY_4D, LRN + "--size 0", 2, "--size"),
    case("lrn-size-even-caffe", NPY_4D, LRN + "--convention caffe --size 4", 2, "--size 4", "odd"),
    case("lrn-depth-radius-negative", NPY_4D, LRN + "--convention tf --depth-radius -1", 2, "--depth-radius"),
    case("lrn-beta-negative", NPY_4D, LRN + "--size 5 --beta -1", 2, "--beta"),
    case("lrn-channel-axis-9", NPY_4D, LRN + "--size 5 --channel-axis 9", 2, "--channel-axis 9"),
    case("lrn-within-with-torch", NPY_4D, LRN + "--convention torch --size 5 --region within", 2, "within"),
    case("lrn-convention-bogus", NPY_4D, LRN + "--convention bogus --size 5", 2, "--convention", "bogus"),
    case("lrn-layout-xyz", NPY_4D, LRN + "--size 5 --layout XYZ", 2, "--layout", "XYZ"),
    case("lrn-torch-without-size", NPY_4D, LRN + "--convention torch", 2, "--size"),
    case("lrn-bias-zero-negative-alpha", NPY_4D, LRN + "--size 5 --bias 0 --alpha -1", 1, "<= 0", clobber=True),
    case("lrn-output-not-npy", NPY_4D, "lrn acts.npy --size 5 -o out.csv", 2, "out.csv", ".npy"),
    case("lrn-output-onto-input", NPY_4D, "lrn acts.npy --size 5 -o acts.npy", 2, "acts.npy", "input"),
    case(
        "lrn-npz-without-key",
        files({"a.npz": npz_bytes(conv1=ACTS, conv2=ACTS)}),
        "lrn a.npz --size 5 -o out.npy",
        2,
        "a.npz",
        "--key",
        "conv1",
    ),
    case(
        "lrn-npz-wrong-key",
        files({"a.npz": npz_bytes(conv1=ACTS)}),
        "lrn a.npz --size 5 --key conv9 -o out.npy",
        2,
        "'conv9'",
        "conv1",
    ),
    case("lrn-1d-array", files({"v.npy": npy_bytes(np.ones(8))}), "lrn v.npy --size 3 -o out.npy", 1, "1-D"),
    case("lrn-missing-input", files({}), "lrn nope.npy --size 3 -o out.npy", 1, "nope.npy", "such file"),
    case("lrn-csv-input", with_data(), "lrn data.csv --size 3 -o out.npy", 1, "data.csv", ".npy"),
    case(
        "lrn-truncated",
        files({"t.npy": npy_bytes(ACTS)[:-64]}),
        "lrn t.npy --size 3 -o out.npy",
        1,
        "t.npy",
        "truncated",
        clobber=True,
    ),
    case(
        "lrn-damaged-header",
        files({"d.npy": npy_bytes(ACTS).replace(b"(2, 6, 4, 4)", b"(2, 6, 4, 4 ", 1)}),
        "lrn d.npy --size 3 -o out.npy",
        1,
        "d.npy",
        "header",
    ),
    case(
        "lrn-disk-full",
        files({"acts.npy": npy_bytes(ACTS), "full.npy": char_device(1, 7)}),
        "lrn acts.npy --size 5 -o full.npy",
        1,
        "full.npy",
        "No space left",
    ),
    # --- found by a QA pass: each of these once exited 0 with wrong output, or with a traceback
    case(
        "stats-json-and-data-both-on-stdout",
        with_data(),
        "transform data.csv -s s.json --stats-json -",
        2,
        "--stats-json -",
        "stdout",
    ),
    case("stats-json-and-scaler-both-on-stdout", with_data(), "fit data.csv -m zscore --stats-json -", 2, "stdout"),
    case(
        "nested-parquet-column-written-as-csv",
        files(
            {
                "n.parquet": parquet_bytes(pa.table({"price": [1.0, 2.0], "rooms": [3.0, 4.0], "tags": [[1], [2]]})),
                "s.json": json.dumps(NUMERIC_ZSCORE),
            }
        ),
        "transform n.parquet -s s.json -o out.csv",
        1,
        "'tags'",
        "Parquet",
        clobber=True,
    ),
    case(
        "scaler-clip-as-a-string",
        with_data(c__json=edited(MINMAX, lambda d: column_of(d, "price")["options"].update(clip="false"))),
        "transform data.csv -s c.json -o out.csv",
        1,
        "c.json",
        "'price'",
        "--clip",
        "true or false",
    ),
    case(
        "scaler-range-as-a-string",
        with_data(r__json=edited(MINMAX, lambda d: column_of(d, "price")["options"].update(range="59"))),
        "transform data.csv -s r.json -o out.csv",
        1,
        "r.json",
        "--range",
        "'59'",
    ),
    case(
        "scaler-version-true",
        with_data(v__json=edited(ZSCORE, lambda d: d.update(version=True))),
        "transform data.csv -s v.json -o out.csv",
        1,
        "v.json",
        "version True",
    ),
    case(
        "scaler-nested-too-deeply",
        with_data(d__json="[" * 100_000 + "]" * 100_000),
        "transform data.csv -s d.json -o out.csv",
        1,
        "d.json",
        "nested too deeply",
    ),
    case(
        "method-for-an-excluded-column",
        with_data(),
        "fit data.csv -m price=log --exclude price -o out.json",
        2,
        "'price'",
        "--exclude",
    ),
    case(
        "two-methods-for-one-column",
        with_data(),
        "fit data.csv -m zscore -m price=log -m price=minmax -o out.json",
        2,
        "'price'",
        "'log'",
        "'minmax'",
    ),
    case(
        "stats-json-through-a-link-to-the-output",
        with_data(link__json=lambda p: p.symlink_to("out.csv")),
        "transform data.csv -s s.json -o out.csv --stats-json link.json",
        2,
        "link.json",
        "same file",
    ),
    case(
        "stats-json-through-a-link-to-stdout",
        with_data(fd1=lambda p: p.symlink_to("/proc/self/fd/1")),
        "transform data.csv -s s.json --stats-json fd1",
        2,
        "fd1",
        "stdout",
        process=True,
    ),
    case(
        "output-is-a-loop-of-links",
        with_data(l1__csv=lambda p: p.symlink_to("l2.csv"), l2__csv=lambda p: p.symlink_to("l1.csv")),
        "transform data.csv -s s.json -o l1.csv",
        2,
        "l1.csv",
        "loop",
    ),
    case(
        "binary-parquet-column-written-as-csv",
        files(
            {
                "b.parquet": parquet_bytes(pa.table({"price": [1.0, 2.0], "rooms": [3.0, 4.0], "raw": [b"x", b"y"]})),
                "s.json": json.dumps(NUMERIC_ZSCORE),
            }
        ),
        "transform b.parquet -s s.json -o out.csv",
        1,
        "'raw'",
        "Parquet",
    ),
    case(
        "negative-log-offset-names-the-bound",
        files({"x.csv": "x\n0.5\n2\n"}),
        "fit x.csv -m log --log-offset -1 -o out.json",
        1,
        "'x'",
        "<= 1.0",
    ),
]


# --- issue 9: data altered or lost in silence (unscaled columns, layouts, quotes, loaded scalers)
PER_CHANNEL_16 = normcli.fit(np.random.default_rng(1).random((2, 16, 3, 3)), "zscore", axis=1).to_dict()


def with_array_scaler(**extra: str | bytes | Callable[[Path], None]) -> Setup:
    """s3.json, a minmax scaler fitted on 2-D arrays of 3 features, plus `extra` files."""
    return files({"s3.json": json.dumps(ARRAY_2D), **{k.replace("__", "."): v for k, v in extra.items()}})


def edited_fitted(scaler: dict, column: str, **fitted: float) -> str:
    return edited(scaler, lambda d: column_of(d, column)["fitted"].update(fitted))


def npy_with_shape(shape: str) -> bytes:
    """A 3 x 4 float64 .npy whose header claims `shape` (text), its padding adjusted so
    the header keeps its length."""
    data = npy_bytes(np.ones((3, 4)))
    end = data.index(b"\n")
    header = data[10:end].decode().replace("(3, 4)", shape).rstrip()
    return data[:10] + header.ljust(end - 10).encode() + data[end:]


SILENT_CASES: list[Case] = [
    # item 2: an array scaler's feature count is part of its layout
    case(
        "array-scaler-on-a-wider-2d-array",
        with_array_scaler(wide__npy=npy_bytes(np.arange(20.0).reshape(4, 5))),
        "transform wide.npy -s s3.json -o out.npy",
        1,
        "wide.npy",
        "3 features",
        "has 5",
        clobber=True,
    ),
    case(
        "array-scaler-inverse-on-a-wider-2d-array",
        with_array_scaler(wide__npy=npy_bytes(np.arange(20.0).reshape(4, 5))),
        "inverse wide.npy -s s3.json -o out.csv",
        1,
        "wide.npy",
        "3 features",
    ),
    case(
        "array-scaler-on-a-narrower-2d-array",
        with_array_scaler(narrow__npy=npy_bytes(np.arange(8.0).reshape(4, 2))),
        "transform narrow.npy -s s3.json -o out.npy",
        1,
        "narrow.npy",
        "3 features",
        "has 2",
    ),
    case(
        "per-channel-scaler-on-twice-the-channels",
        files(
            {
                "bn.json": json.dumps(PER_CHANNEL_16),
                "acts.npy": npy_bytes(np.random.default_rng(2).random((2, 32, 3, 3)).astype(np.float32)),
            }
        ),
        "transform acts.npy -s bn.json -o out.npy",
        1,
        "acts.npy",
        "16 features",
        "has 32",
    ),
    case(
        "array-scaler-with-named-input-columns",
        with_array_scaler(
            n__json=edited(
                ARRAY_2D, lambda d: d.update(input_columns=["a", "1", "2"]) or d["columns"][0].update(name="a")
            ),
            a__npy=npy_bytes(np.ones((4, 3))),
        ),
        "transform a.npy -s n.json -o out.npy",
        1,
        "n.json",
        "input_columns",
    ),
    # item 4: a loaded scaler is checked as a fit would check it
    case(
        "scaler-minmax-span-overflows",
        with_data(o__json=edited_fitted(MINMAX, "price", min=-1.7e308, max=1.7e308)),
        "transform data.csv -s o.json -o out.csv",
        1,
        "o.json",
        "'price'",
        "overflows",
        clobber=True,
    ),
    case(
        "scaler-minmax-span-subnormal",
        with_data(u__json=edited_fitted(MINMAX, "price", min=0.0, max=1e-320)),
        "transform data.csv -s u.json -o out.csv",
        1,
        "u.json",
        "'price'",
        "1e-320",
    ),
    case(
        "scaler-minmax-factor-underflows",
        with_data(
            u__json=edited(
                MINMAX,
                lambda d: (
                    column_of(d, "price")["fitted"].update(min=0.0, max=1e300)
                    or column_of(d, "price")["options"].update(range=[0.0, 1e-20])
                ),
            )
        ),
        "inverse data.csv -s u.json -o out.csv",
        1,
        "u.json",
        "'price'",
        "underflows",
    ),
    case(
        "scaler-zscore-std-too-small-to-divide-by",
        with_data(z__json=edited_fitted(ZSCORE, "rooms", std=1e-310)),
        "transform data.csv -s z.json -o out.csv",
        1,
        "z.json",
        "'rooms'",
        "1e-310",
        clobber=True,
    ),
    case(
        "scaler-minmax-range-underflows",
        with_data(r__json=edited(MINMAX, lambda d: column_of(d, "rooms")["options"].update(range=[0, 5e-324]))),
        "transform data.csv -s r.json -o out.csv",
        1,
        "r.json",
        "'rooms'",
        "5e-324",
    ),
    case(
        "scaler-minmax-range-overflows",
        with_data(r__json=edited(MINMAX, lambda d: column_of(d, "rooms")["options"].update(range=[-1e308, 1e308]))),
        "transform data.csv -s r.json -o out.csv",
        1,
        "r.json",
        "'rooms'",
        "inf",
    ),
    case(
        "scaler-log-normalize-max-overflows",
        with_data(
            l__json=edited(
                normcli.fit({"p": np.array([10.0, 100.0])}, "log", normalize=True).to_dict(),
                lambda d: (
                    column_of(d, "p")["options"].update(offset=1.7e308)
                    or column_of(d, "p")["fitted"].update(max=1.7e308)
                ),
            ),
            p__csv="p\n5\n",
        ),
        "transform p.csv -s l.json -o out.csv",
        1,
        "l.json",
        "'p'",
    ),
    case(
        "scaler-duplicate-key",
        with_data(d__json=json.dumps(ZSCORE).replace('"std": ', '"std": 1.0, "std": ', 1)),
        "transform data.csv -s d.json -o out.csv",
        1,
        "d.json",
        "'std'",
        "twice",
        clobber=True,
    ),
    case(
        "scaler-duplicate-column-object-key",
        with_data(d__json=json.dumps(ZSCORE).replace('"name": "price"', '"name": "price", "name": "rooms"', 1)),
        "transform data.csv -s d.json -o out.csv",
        1,
        "d.json",
        "'name'",
        "twice",
    ),
    # item 6: a minmax range too narrow for float64
    case(
        "minmax-range-underflows",
        with_data(),
        "fit data.csv -m minmax --range 0 5e-324 -o out.json",
        2,
        "--range",
        "5e-324",
        clobber=True,
    ),
    case(
        "minmax-range-overflows",
        with_data(),
        "fit data.csv -m minmax --range -1e308 1e308 -o out.json",
        2,
        "--range",
        "inf",
    ),
    # item 3: a quote that is never closed swallows every row after it
    case(
        "unclosed-quote-in-the-last-column",
        with_data(q__csv='id,city,price,rooms\nH1,Porto,100000,3\nH2,"Faro,250000,4\nH3,Lisboa,175000,2\n'),
        "transform q.csv -s s.json -o out.csv",
        1,
        "q.csv",
        "line 3",
        "never closed",
        clobber=True,
    ),
    case(
        "unclosed-quote-in-a-text-column-fit",
        files({"q.csv": 'price,rooms,note\n1,2,"never closed\n3,4,b\n3,4,b\n'}),
        "fit q.csv -m zscore -o out.json",
        1,
        "q.csv",
        "line 2",
        "never closed",
    ),
    case(
        "unclosed-quote-stats",
        files({"q.csv": 'price,rooms,note\n1,2,"never closed\n3,4,b\n3,4,b\n'}),
        "stats q.csv",
        1,
        "q.csv",
        "line 2",
    ),
    case(
        "unclosed-quote-mid-row",
        files({"q.csv": 'price,note,rooms\n1,"open,2\n3,b,4\n'}),
        "fit q.csv -m zscore -o out.json",
        1,
        "q.csv",
        "line 2",
        "never closed",
    ),
    case(
        "unclosed-quote-far-down",
        with_data(
            q__csv=big_file(
                'H9,"Faro,1,2\nH1,Porto,100000,3\n', header="id,price,rooms,city\n", row="H1,100000,3,Porto\n"
            )
        ),
        "transform q.csv -s s.json -o out.parquet",
        1,
        "q.csv",
        "line 600002",
        "never closed",
        clobber=True,
    ),
    case(
        "unclosed-quote-far-down-stdin",
        files({"s.json": json.dumps(ZSCORE)}),
        "transform - -s s.json -o out.csv",
        1,
        "<stdin>",
        "line 600002",
        stdin=big_csv('H9,Porto,1,"2\nH1,Porto,100000,3\n'),
    ),
    # item 1: a later row that the typed output cannot keep, and .npy outputs that cannot hold a value
    case(
        "leading-zero-id-far-down-to-parquet",
        files(
            {
                "big.csv": big_file("00123,3\n", header="id,price\n", row="12345,100000\n", rows=300_000),
                "s.json": json.dumps(normcli.fit({"price": np.array([1.0, 2.0])}, "zscore").to_dict()),
            }
        ),
        "transform big.csv -s s.json -o out.parquet",
        1,
        "big.csv",
        "'id'",
        "'00123'",
        "int64",
        clobber=True,
    ),
    case(
        "overflowing-id-far-down-to-parquet",
        files(
            {
                "big.csv": big_file(
                    "12345678901234567891,3\n", header="id,price\n", row="12345,100000\n", rows=300_000
                ),
                "s.json": json.dumps(normcli.fit({"price": np.array([1.0, 2.0])}, "zscore").to_dict()),
            }
        ),
        "transform big.csv -s s.json -o out.parquet",
        1,
        "big.csv",
        "'id'",
        "12345678901234567891",
    ),
    case(
        "id-beyond-2-53-to-npy",
        files(
            {
                "i.csv": "id,price\n9007199254740993,1\n2,2\n",
                "s.json": json.dumps(normcli.fit({"price": np.array([1.0, 2.0])}, "zscore").to_dict()),
            }
        ),
        "transform i.csv -s s.json -o out.npy",
        1,
        "i.csv",
        "'id'",
        "9007199254740993",
        clobber=True,
    ),
    case(
        "uint64-parquet-to-npy",
        files(
            {
                "u.parquet": parquet_bytes(pa.table({"u": pa.array([2**64 - 1, 1], pa.uint64()), "price": [1.0, 2.0]})),
                "s.json": json.dumps(normcli.fit({"price": np.array([1.0, 2.0])}, "zscore").to_dict()),
            }
        ),
        "transform u.parquet -s s.json -o out.npy",
        1,
        "u.parquet",
        "'u'",
        "18446744073709551615",
    ),
    case(
        "unscaled-float64-to-float32-npy",
        files(
            {
                "f.csv": "f,price\n0.1,1\n0.2,2\n",
                "s.json": json.dumps(normcli.fit({"price": np.array([1.0, 2.0])}, "zscore").to_dict()),
            }
        ),
        "transform f.csv -s s.json -o out.npy --dtype float32",
        1,
        "f.csv",
        "'f'",
        "0.1",
        "float32",
    ),
    # item 12: damaged .npy headers
    case(
        "npy-header-negative-dimension",
        files({"n.npy": npy_with_shape("(-3, 4)")}),
        "fit n.npy -m zscore -o out.json",
        1,
        "n.npy",
        "damaged",
        "negative",
    ),
    case(
        "npy-header-shape-overflows",
        files({"o.npy": npy_with_shape(f"({2**40}, {2**40})")}),
        "stats o.npy",
        1,
        "o.npy",
        "damaged",
    ),
    case(
        "npy-header-shape-overflows-lrn",
        files({"o.npy": npy_with_shape("(99999999999999999999, 4, 2, 2)")}),
        "lrn o.npy --size 3 -o out.npy",
        1,
        "o.npy",
        "damaged",
        clobber=True,
    ),
    case(
        "npy-header-zero-times-huge",
        files({"z.npy": npy_with_shape("(0, 99999999999999999999999)")}),
        "stats z.npy",
        1,
        "z.npy",
        "damaged",
    ),
    case(
        "minmax-fit-factor-underflows",
        files({"h.csv": "x\n-1e300\n1e300\n"}),
        "fit h.csv -m minmax --range 0 1e-20 -o out.json",
        1,
        "'x'",
        "underflows",
    ),
]
CASES += SILENT_CASES


# --- issue 9: terminals, signals, non-seekable inputs, damaged files, messages
def scaler_with_a_huge_integer() -> str:
    return json.dumps(ZSCORE, indent=2).replace('"version": 1', '"version": ' + "9" * 5000)


def long_row_stream(row_bytes: int = 20_000_000) -> bytes:
    """A row longer than any block normcli reads, after 150,000 short ones, on stdin."""
    return ("x,t\n" + "".join(f"{i},a\n" for i in range(150_000)) + "7," + "b" * row_bytes + "\n1,c\n").encode()


FULL = char_device(1, 7)

HOSTILE_CASES: list[Case] = [
    # 9.7: a path with a line break and an escape sequence is one line, shown with escapes
    case(
        "path-with-line-break-and-escape",
        files({}),
        ("stats", "no\nsuch\x1b[2J.csv"),
        1,
        "no\\nsuch\\x1b[2J.csv",
        "no such file",
    ),
    case(
        "columns-option-with-escape",
        files({"data.csv": CSV}),
        ("fit", "data.csv", "-m", "zscore", "--columns", "pr\x1b]8;;x\x07ice", "-o", "out.json"),
        2,
        "pr\\x1b]8;;x\\x07ice",
    ),
    # 9.8: a failing --stats-json leaves every other output as it was
    case(
        "stats-json-on-a-full-disk-keeps-the-data-output",
        with_data(full=FULL),
        "transform data.csv -s s.json -o out.csv --stats-json full",
        1,
        "full",
        "No space left on device",
        clobber=True,
    ),
    case(
        "stats-json-on-a-full-disk-keeps-the-scaler",
        with_data(full=FULL),
        "fit data.csv -m zscore -o out.json --stats-json full",
        1,
        "full",
        "No space left on device",
        clobber=True,
    ),
    case(
        "stats-json-on-a-full-disk-keeps-the-lrn-output",
        files({"acts.npy": npy_bytes(ACTS), "full": FULL}),
        LRN + "--size 3 --stats-json full",
        1,
        "full",
        "No space left on device",
        clobber=True,
    ),
    # 9.15: messages that were unclear
    case(
        "parquet-output-on-a-full-disk",
        with_data(full=FULL),
        "transform data.csv -s s.json -o full --output-format parquet",
        1,
        "cannot write full: No space left on device",
    ),
    case(
        "npz-that-is-not-a-zip",
        files({"a.npz": b"not a zip at all"}),
        LRN.replace("acts.npy", "a.npz") + "--key x",
        1,
        "a.npz",
        "not a zip file",
    ),
    case(
        "one-line-without-a-line-break",
        files({"h.csv": "id,price"}),
        "fit h.csv -m zscore -o out.json",
        1,
        "h.csv",
        "only a header",
    ),
    case(
        "scaler-with-a-4300-digit-integer",
        with_data(big__json=scaler_with_a_huge_integer()),
        "transform data.csv -s big.json -o out.csv",
        1,
        "big.json",
        "an integer of over 4300 digits",
    ),
    case(
        "row-longer-than-a-block-on-stdin",
        files({}),
        "stats - --columns x",
        1,
        "<stdin>",
        "a row after data row",
        "save the input to a file",
        stdin=long_row_stream(),
    ),
]
CASES += HOSTILE_CASES


# --- issue 9: bounded memory (Parquet row groups, arrays with the feature axis first)
def damaged_late_parquet(path: Path) -> None:
    """Three row groups of 100,000 rows, the third's first page header overwritten: the footer
    reads fine, and the damage is met after the first batch has gone to the writer."""
    table = pa.table({"price": np.arange(300_000.0), "rooms": np.arange(300_000.0) % 7})
    pq.write_table(table, path, row_group_size=100_000)
    offset = pq.ParquetFile(path).metadata.row_group(2).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


MEMORY_CASES: list[Case] = [
    case(
        "parquet-damaged-after-the-first-batch",
        with_data(late__parquet=damaged_late_parquet, n__json=json.dumps(NUMERIC_ZSCORE)),
        "transform late.parquet -s n.json -o out.parquet",
        1,
        "late.parquet",
        "after row 131,072 of 300,000",
        clobber=True,
    ),
    case(
        "parquet-damaged-after-the-first-batch-fit",
        files({"late.parquet": damaged_late_parquet}),
        "fit late.parquet -m zscore -o out.json",
        1,
        "late.parquet",
        "not a readable Parquet file",
        clobber=True,
    ),
]
CASES += MEMORY_CASES


# --- issue 11: CSV dialects, compression, encodings, missing-value tokens
LATIN1 = "Preço;Área\n1,5;20\n2,5;40\n".encode("latin-1")


def truncated_gzip(path: Path) -> None:
    whole = gzip.compress(big_csv())
    path.write_bytes(whole[: len(whole) // 2])


DIALECT_CASES: list[Case] = [
    case(
        "delimiter-of-two-characters", with_data(), "fit data.csv -m zscore -d ;; -o out.json", 2, "--delimiter", "';;'"
    ),
    case("delimiter-a-quote", with_data(), ("stats", "data.csv", "-d", '"'), 2, "--delimiter"),
    case("unknown-encoding", with_data(), "stats data.csv --encoding klingon", 2, "--encoding", "'klingon'"),
    case("decimal-not-a-mark", with_data(), "stats data.csv --decimal x", 2, "--decimal", "'.' or ','"),
    case("comment-of-two-characters", with_data(), "stats data.csv --comment //", 2, "--comment", "'//'"),
    case("negative-skip-rows", with_data(), "stats data.csv --skip-rows -1", 2, "--skip-rows", "-1"),
    case("names-repeated", with_data(), "stats data.csv --names a,a,b,c", 2, "--names", "'a' twice"),
    case(
        "names-fewer-than-columns",
        with_data(),
        "fit data.csv --names a,b -m zscore -o out.json",
        1,
        "data.csv",
        "4 column(s)",
        clobber=True,
    ),
    case(
        "header-splits-but-rows-do-not",
        files({"h.csv": "a;b;c\n1\n2\n"}),
        "fit h.csv -m zscore -o out.json",
        1,
        "h.csv",
        "';'",
        "--delimiter",
    ),
    case(
        "latin1-without-encoding",
        files({"l1.csv": LATIN1}),
        "fit l1.csv -m zscore -o out.json",
        1,
        "l1.csv",
        "UTF-8",
        "--encoding",
        clobber=True,
    ),
    case(
        "byte-undefined-in-cp1252",
        files({"w.csv": b"a,b\n1,2\n3,\x81\n"}),
        "fit w.csv --encoding cp1252 -m zscore -o out.json",
        1,
        "w.csv",
        "cp1252",
    ),
    case(
        "truncated-gzip",
        with_data(t__csv__gz=truncated_gzip),
        "transform t.csv.gz -s s.json -o out.csv",
        1,
        "t.csv.gz",
        "gzip",
        clobber=True,
    ),
    case(
        "gz-name-but-not-gzip",
        with_data(p__csv__gz=CSV),
        "transform p.csv.gz -s s.json -o out.csv",
        1,
        "p.csv.gz",
        "not gzip-compressed",
    ),
    case(
        "compressed-parquet-output",
        with_data(),
        "transform data.csv -s s.json -o out.parquet.gz",
        2,
        "out.parquet.gz",
        "gzip",
    ),
    case(
        "compressed-parquet-input",
        files({"x.parquet.gz": gzip.compress(parquet_bytes())}),
        "fit x.parquet.gz -m zscore -o out.json",
        2,
        "x.parquet.gz",
        "decompress",
    ),
    case(
        "compressed-without-a-format-extension",
        files({"x.gz": gzip.compress(CSV.encode())}),
        "fit x.gz -m zscore -o out.json",
        2,
        "x.gz",
        "--format",
    ),
    case(
        "csv-options-on-parquet",
        files({"x.parquet": parquet_bytes()}),
        "fit x.parquet -d ; -m zscore -o out.json",
        2,
        "x.parquet",
        "delimiter",
    ),
    case(
        "scaler-remembers-a-bad-dialect",
        with_data(bad__json=edited(ZSCORE, lambda d: d.update(dialect={"delimiter": "ab"}))),
        "transform data.csv -s bad.json -o out.csv",
        1,
        "bad.json",
        "'dialect' delimiter",
    ),
    case(
        "text-in-a-scaled-column-of-a-semicolon-file",
        with_data(
            semi__csv=big_file(header="id;city;price;rooms\n", row="H1;Porto;100000;3\n", bad_tail="H9;Faro;n/d;2\n")
        ),
        "transform semi.csv -s s.json -o out.csv",
        1,
        "'price'",
        "'n/d'",
        "';'-separated",
        clobber=True,
    ),
]
CASES += DIALECT_CASES


# --- issue 11: reports, stats, show, fit --apply and the small options
NEGATIVE = "a,b,c\n1,0,-1\n2,-3,2\n"
LOG_AB = normcli.fit({"a": np.array([1.0, 3.0]), "b": np.array([2.0, 4.0])}, "log").to_json()
REPORT_CASES: list[Case] = [
    case("report-choice-unknown", with_data(), "fit data.csv -m zscore -o out.json --report short", 2, "short"),
    case("stats-json-and-csv-disagree", with_data(), "stats data.csv --json --output-format csv", 2, "--json", "csv"),
    case("stats-output-format-unknown", with_data(), "stats data.csv --output-format xml", 2, "xml"),
    case("stats-ddof-negative", with_data(), "stats data.csv --ddof -1", 2, "--ddof", "-1"),
    case("stats-exclude-everything", with_data(), ("stats", "data.csv", "--exclude", "*"), 1, "--exclude", "data.csv"),
    case("stats-glob-matches-nothing", with_data(), ("stats", "data.csv", "--columns", "temp_*"), 2, "'temp_*'"),
    case("stats-of-a-directory", files({"parts": directory}), "stats parts", 1, "parts is a directory"),
    case("stats-empty-name-in-list", with_data(), "stats data.csv --columns price,,rooms", 2, "empty name"),
    case("fit-exclude-unknown-glob", with_data(), ("fit", "data.csv", "-m", "zscore", "--exclude", "x*"), 2, "'x*'"),
    case("log-base-not-a-number", with_data(), "fit data.csv -m log --base ten -o out.json", 2, "'ten'", "e"),
    case(
        "log-domain-names-every-column",
        files({"n.csv": NEGATIVE}),
        "fit n.csv -m log -o out.json",
        1,
        "'b' (2 value(s), e.g. 0.0)",
        "'c' (1 value(s), e.g. -1.0)",
        clobber=True,
    ),
    case("show-missing-scaler", files({}), "show nope.json", 1, "nope.json", "no such file"),
    case("show-not-a-scaler", with_data(), "show data.csv", 1, "data.csv", "not a normcli scaler file"),
    case("show-format-unknown", with_data(), "show s.json --output-format csv", 2, "csv"),
    case("fit-scaler-option-without-apply", with_data(), "fit data.csv -m zscore -s s2.json", 2, "-s", "--apply"),
    case(
        "fit-apply-scaler-onto-the-input",
        with_data(),
        "fit data.csv -m zscore --apply -o out.csv -s data.csv",
        2,
        "-s data.csv",
        "input",
        clobber=True,
    ),
    case(
        "fit-apply-scaler-and-data-one-file",
        with_data(),
        "fit data.csv -m zscore --apply -o out.csv -s out.csv",
        2,
        "would both write",
        clobber=True,
    ),
    case(
        "fit-apply-domain-error-writes-nothing",
        files({"n.csv": NEGATIVE}),
        "fit n.csv -m log --columns a,b --apply -o out.csv -s s2.json",
        1,
        "'b'",
        clobber=True,
    ),
    case(
        "fit-apply-stdin-domain-error",
        files({}),
        "fit - -m log --apply -o out.csv -s s2.json",
        1,
        "column 'x'",
        stdin=b"x\n1\n-2\n",
        clobber=True,
    ),
    case("fit-apply-stdin-empty", files({}), "fit - -m zscore --apply -o out.csv", 1, "<stdin>", "empty", stdin=b""),
    case(
        "transform-domain-names-every-column",
        files({"new.csv": "a,b\n-1,2\n3,0\n", "s.json": LOG_AB}),
        "transform new.csv -s s.json -o out.csv",
        1,
        "column 'a'",
        "column 'b'",
        clobber=True,
    ),
]
CASES += REPORT_CASES


# --- issue 13: batch, layer, instance, group and RMS normalization
NORM = "norm acts.npy -o out.npy "
CONSTANT_CHANNEL = np.ones((3, 2, 4), dtype=np.float32)
CONSTANT_CHANNEL[:, 1] = np.arange(12).reshape(3, 4)
NORM_CASES: list[Case] = [
    case("norm-groups-do-not-divide", NPY_4D, NORM + "--kind group --groups 4", 2, "--groups 4", "6 channels"),
    case("norm-group-without-groups", NPY_4D, NORM + "--kind group", 2, "--groups G"),
    case("norm-dims-beyond-rank", NPY_4D, NORM + "--kind layer --normalized-dims 5", 2, "--normalized-dims 5", "4-D"),
    case("norm-negative-eps", NPY_4D, NORM + "--kind batch --eps -1e-5", 2, "--eps", ">= 0", clobber=True),
    case(
        "norm-eps-zero-constant-channel",
        files({"acts.npy": npy_bytes(CONSTANT_CHANNEL)}),
        NORM + "--kind batch --eps 0",
        1,
        "variance + eps <= 0",
        "1 of 2 channels",
        clobber=True,
    ),
    case(
        "norm-affine-wrong-length",
        files({"acts.npy": npy_bytes(ACTS), "bn.npz": npz_bytes(weight=np.ones(5), bias=np.zeros(5))}),
        NORM + "--kind batch --affine bn.npz",
        1,
        "bn.npz",
        "(5,)",
        "(6,)",
        clobber=True,
    ),
    case(
        "norm-affine-text-dtype",
        files({"acts.npy": npy_bytes(ACTS), "bn.npz": npz_bytes(weight=np.array(["1"] * 6), bias=np.zeros(6))}),
        NORM + "--kind batch --affine bn.npz",
        1,
        "bn.npz",
        "dtype",
    ),
    case(
        "norm-affine-without-names",
        files({"acts.npy": npy_bytes(ACTS), "bn.npz": npz_bytes(w=np.ones(6))}),
        NORM + "--kind batch --affine bn.npz",
        1,
        "bn.npz",
        "weight/bias",
    ),
    case(
        "norm-gamma-wrong-shape-for-layer",
        files({"acts.npy": npy_bytes(ACTS), "g.npy": npy_bytes(np.ones(6))}),
        NORM + "--kind layer --normalized-dims 2 --gamma g.npy",
        1,
        "(6,)",
        "(4, 4)",
    ),
    case(
        "norm-stats-without-variance",
        files({"acts.npy": npy_bytes(ACTS), "bn.npz": npz_bytes(running_mean=np.zeros(6))}),
        NORM + "--kind batch --stats bn.npz",
        1,
        "bn.npz",
        "no running_var",
        clobber=True,
    ),
    case(
        "norm-stats-wrong-length",
        files({"acts.npy": npy_bytes(ACTS), "bn.npz": npz_bytes(running_mean=np.zeros(3), running_var=np.ones(3))}),
        NORM + "--kind batch --stats bn.npz",
        1,
        "bn.npz",
        "(3,)",
    ),
    case(
        "norm-stats-negative-variance",
        files({"acts.npy": npy_bytes(ACTS), "bn.npz": npz_bytes(running_mean=np.zeros(6), running_var=-np.ones(6))}),
        NORM + "--kind batch --stats bn.npz",
        1,
        "bn.npz",
        "negative",
    ),
    case(
        "norm-stats-for-layer-norm",
        files({"acts.npy": npy_bytes(ACTS), "bn.npz": npz_bytes(running_mean=np.zeros(6), running_var=np.ones(6))}),
        NORM + "--kind layer --normalized-dims 1 --stats bn.npz",
        2,
        "--stats",
        "--kind layer",
    ),
    case(
        "norm-rms-with-beta",
        files({"acts.npy": npy_bytes(ACTS), "b.npy": npy_bytes(np.ones(4))}),
        NORM + "--kind rms --normalized-dims 1 --beta b.npy",
        2,
        "--kind rms",
        "beta",
    ),
    case(
        "norm-object-array",
        files({"acts.npy": npy_bytes(np.array([[1, "a"]], dtype=object), allow_pickle=True)}),
        NORM + "--kind batch",
        1,
        "acts.npy",
        "pickle",
    ),
    case("norm-instance-on-2d", files({"acts.npy": npy_bytes(np.ones((4, 3)))}), NORM + "--kind instance", 1, "2-D"),
    case("norm-output-not-npy", NPY_4D, "norm acts.npy -o out.csv --kind batch", 2, "out.csv", ".npy"),
    case(
        "bn-stats-batch-size-1",
        files({"acts.npy": npy_bytes(np.random.default_rng(1).random((4, 3)))}),
        "bn-stats acts.npy -o out.npz --batch-size 1",
        1,
        "acts.npy",
        "1 value per channel",
        "m/(m-1)",
        clobber=True,
    ),
    case(
        "bn-stats-files-disagree",
        files({"a.npy": npy_bytes(ACTS), "b.npy": npy_bytes(np.ones((2, 5, 4, 4), dtype=np.float32))}),
        "bn-stats a.npy b.npy -o out.npz",
        1,
        "b.npy",
        "(2, 5, 4, 4)",
    ),
    case("bn-stats-momentum-out-of-range", NPY_4D, "bn-stats acts.npy -o out.npz --momentum 1.5", 2, "--momentum"),
    case("bn-stats-output-not-npz", NPY_4D, "bn-stats acts.npy -o out.npy", 2, "out.npy", ".npz"),
]
CASES += NORM_CASES


# --- issue 14: more scalers and merge
ROBUST = _table_scaler("robust")
YEO = _table_scaler("yeo-johnson")
QUANTILE = _table_scaler("quantile")


def scalers(**named: dict) -> Setup:
    """data.csv and the scaler files `named` (name with `__` for `.`)."""
    return files({"data.csv": CSV, **{k.replace("__", "."): json.dumps(v) for k, v in named.items()}})


METHOD_CASES: list[Case] = [
    case(
        "box-cox-zero",
        files({"d.csv": "a,b\n1,0.5\n2,0\n3,4\n"}),
        "fit d.csv -m box-cox -o out.json",
        1,
        "column 'b'",
        "box-cox needs x > 0",
        "--invalid nan",
    ),
    case(
        "robust-quantile-range-reversed",
        with_data(),
        "fit data.csv -m robust --quantile-range 80 20 -o out.json",
        2,
        "--quantile-range",
        "0 <= LO < HI <= 100",
    ),
    case("n-quantiles-zero", with_data(), "fit data.csv -m quantile --n-quantiles 0 -o out.json", 2, "--n-quantiles"),
    case(
        "quantile-option-without-quantile",
        with_data(),
        "fit data.csv -m minmax --output-distribution normal -o out.json",
        2,
        "--output-distribution",
        "quantile",
    ),
    case("no-center-without-robust", with_data(), "fit data.csv -m zscore --no-center -o out.json", 2, "--no-center"),
    case("memory-not-a-size", with_data(), "fit data.csv -m robust --memory lots -o out.json", 2, "--memory", "lots"),
    case("merge-one-file", scalers(a__json=ROBUST), "merge a.json -o out.json", 2, "two or more"),
    case(
        "merge-other-columns",
        scalers(a__json=ZSCORE, b__json=NUMERIC_ZSCORE),
        "merge a.json b.json -o out.json",
        1,
        "b.json",
        "was fitted on columns",
    ),
    case(
        "merge-other-method",
        scalers(a__json=ZSCORE, b__json=MINMAX),
        "merge a.json b.json -o out.json",
        1,
        "column 'price'",
        "'minmax'",
    ),
    case(
        "merge-other-options",
        scalers(a__json=ROBUST, b__json=_table_scaler("robust", quantile_range=(10, 90))),
        "merge a.json b.json -o out.json",
        1,
        "options",
    ),
    case(
        "merge-power",
        scalers(a__json=YEO, b__json=YEO),
        "merge a.json b.json -o out.json",
        1,
        "yeo-johnson",
        "refit",
    ),
    case(
        "quantiles-decreasing",
        scalers(q__json=json.loads(edited(QUANTILE, lambda d: d["columns"][0]["fitted"]["quantiles"].reverse()))),
        "transform data.csv -s q.json -o out.csv",
        1,
        "q.json",
        "quantiles must not decrease",
    ),
]
CASES += METHOD_CASES

# --- drift: normcli check ---------------------------------------------------------------------------


def _without_profiles(data: dict) -> None:
    for column in data["columns"]:
        column.pop("profile", None)


DRIFT_CASES: list[Case] = [
    case(
        "check-old-scaler",
        with_data(old__json=edited(ZSCORE, _without_profiles)),
        "check data.csv -s old.json",
        1,
        "old.json",
        "no profile",
        "refit",
    ),
    case("check-negative-psi", with_data(), "check data.csv -s s.json --max-psi -1", 2, "--max-psi", ">= 0"),
    case("check-nan-ks", with_data(), "check data.csv -s s.json --max-ks nan", 2, "--max-ks", ">= 0"),
    case("check-missing-scaler", with_data(), "check data.csv -s nope.json", 1, "nope.json"),
    case("check-directory", files({"d": directory}), "check d -s s.json", 1, "d is a directory"),
    case("check-both-stdin", with_data(), "check - -s -", 2, "cannot both be stdin"),
]
CASES += DRIFT_CASES


# --- issue 16: datasets (several paths, globs, directories)
DATASET_PARTS = {"days/d1.csv": HEADER + "H1,Porto,100000,3\n", "days/d2.csv": HEADER + "H2,Faro,250000,4\n"}
DATASET_CASES: list[Case] = [
    case(
        "dataset-glob-matches-nothing",
        files(DATASET_PARTS),
        ("fit", "days", "nights/*.csv", "-m", "zscore", "-o", "out.json"),
        1,
        "nights/*.csv",
        "no such file",
    ),
    case(
        "dataset-stdin-among-parts",
        files(DATASET_PARTS),
        "fit - days -m zscore -o out.json",
        2,
        "'-'",
        "several inputs",
    ),
    case(
        "dataset-mixed-formats",
        files({**DATASET_PARTS, "days/d3.parquet": parquet_bytes()}),
        "fit days -m zscore -o out.json",
        2,
        "mix formats",
        "d3.parquet",
    ),
    case(
        "dataset-part-lacks-column",
        files({**DATASET_PARTS, "days/d3.csv": "id,city,rooms\nH3,Braga,2\n"}),
        "fit days -m zscore --columns price -o out.json",
        1,
        "days/d3.csv",
        "'price'",
    ),
    case(
        "dataset-part-holds-text",
        files({**DATASET_PARTS, "days/d3.csv": HEADER + "H3,Braga,cheap,2\n"}),
        "fit days -m zscore --columns price -o out.json",
        1,
        "days/d3.csv",
        "'price'",
        "text",
    ),
    case("dataset-fit-apply", files(DATASET_PARTS), "fit days -m zscore --apply -o out.csv", 2, "--apply", "dataset"),
    case(
        "dataset-output-dir-exists",
        files({**DATASET_PARTS, "s.json": json.dumps(ZSCORE), "out/keep.txt": "x"}),
        "transform days -s s.json -o out/",
        2,
        "out/ exists",
        "--overwrite",
    ),
    case(
        "dataset-output-dir-is-a-file",
        files({**DATASET_PARTS, "s.json": json.dumps(ZSCORE), "out": "x"}),
        "transform days -s s.json -o out/",
        2,
        "out/",
        "is a file",
    ),
    case(
        "dataset-overwrite-single-file",
        with_data(),
        "transform data.csv -s s.json -o out.csv --overwrite",
        2,
        "--overwrite",
        "-o DIR/",
    ),
]
DATASET_CASES += [
    case(
        "dataset-s3-url",
        files({}),
        "fit s3://bucket/lake/ -m zscore -o out.json",
        2,
        "s3://bucket/lake/",
        "pip install s3fs",
    ),
    case(
        "dataset-url-scheme-unknown",
        files({}),
        "fit nosuchfs://bucket/lake/ -m zscore -o out.json",
        2,
        "nosuchfs://",
        "fsspec",
    ),
    case(
        "dataset-url-no-such-file",
        files({}),
        "fit memory://normcli-catalogue/none.csv memory://normcli-catalogue/none2.csv -m zscore -o out.json",
        1,
        "memory://normcli-catalogue/none.csv",
        "no such file",
    ),
    case(
        "dataset-mixed-url-and-path",
        files(DATASET_PARTS),
        "fit memory://normcli-catalogue/ days -m zscore -o out.json",
        2,
        "days",
        "every input as a URL",
    ),
    case(
        "dataset-url-output-missing-package",
        files(DATASET_PARTS),
        "transform days -s scaler.json -o gs://bucket/scaled/",
        2,
        "gs://bucket/scaled/",
        "pip install gcsfs",
    ),
    case(
        "dataset-file-url-other-host",
        files({}),
        "fit file://server/lake/ -m zscore -o out.json",
        2,
        "file://server/lake/",
        "this machine",
    ),
    # several inputs: reports, plots, check and outputs as for one file (issue 15, 16.2)
    case(
        "dataset-dir-output-stats-json-full",
        files({**DATASET_PARTS, "s.json": json.dumps(ZSCORE), "full.json": char_device(1, 7)}),
        "transform days -s s.json -o out/ --stats-json full.json",
        1,
        "full.json",
        "No space left",
    ),
    case(
        "dataset-plot-unknown-format",
        files(DATASET_PARTS),
        "fit days -m zscore -o out.json --plot fit.bmp",
        2,
        "fit.bmp",
    ),
    case(
        "dataset-check-old-scaler",
        files({**DATASET_PARTS, "old.json": edited(ZSCORE, _without_profiles)}),
        "check days -s old.json",
        1,
        "old.json",
        "refit",
    ),
    case(
        "dataset-bad-delimiter-in-scaler",
        files({**DATASET_PARTS, "s.json": edited(ZSCORE, lambda d: d.update(dialect={"delimiter": "ab"}))}),
        "transform days -s s.json -o out/",
        1,
        "s.json",
        "dialect",
    ),
]
CASES += DATASET_CASES


# --- the checks --------------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under `folder`: file bytes, a directory marker, or a device number."""
    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        key = str(path.relative_to(folder))
        if stat.S_ISREG(st.st_mode):
            out[key] = path.read_bytes()
        elif stat.S_ISDIR(st.st_mode):
            out[key] = "<dir>"
        elif stat.S_ISLNK(st.st_mode):
            out[key] = f"<link {os.readlink(path)}>"
        else:
            out[key] = f"<special {stat.S_IFMT(st.st_mode):o} {st.st_rdev}>"
    return out


VARIANTS = [pytest.param(c, False, id=c.id) for c in CASES] + [
    pytest.param(c, True, id=f"{c.id}+existing-output") for c in CASES if c.clobber
]


@dataclass
class Outcome:
    folder: Path
    before: dict[str, object]
    result: Run


def run_case(c: Case, existing: bool, folder: Path, runner: Callable[..., Run]) -> Outcome:
    c.setup(folder)
    if existing:
        assert c.output and c.output.startswith("out."), c.id
        (folder / c.output).write_bytes(PRECIOUS)
    before = snapshot(folder)
    return Outcome(folder, before, runner(*c.argv, stdin=c.stdin, cwd=folder))


# One case in PROCESS_SAMPLE, chosen by a hash of its id (so that a case added elsewhere in
# the catalogue does not change which others are chosen), also runs through the installed
# console script and must give the same exit code, stdout and stderr as in process; with
# NORMCLI_TEST_PROCESS=1 every case does.
PROCESS_SAMPLE = 8


def through_a_process(c: Case) -> bool:
    return c.process or ALL_IN_PROCESSES or zlib.crc32(c.id.encode()) % PROCESS_SAMPLE == 0


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[tuple[str, bool], tuple[Outcome | None, Outcome | None]]:
    """Each selected case (in process, and through the console script, see PROCESS_SAMPLE).
    The in-process runs follow one another in this thread, while the console script's runs,
    processes that spend most of their life starting up, run beside them in two threads."""
    wanted = [
        (item.callspec.params["c"], item.callspec.params["existing"])
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_bad_input_is_one_clean_error_line_and_writes_nothing"
    ]
    env = {**os.environ, "COLUMNS": "200"}  # read here: the in-process runs change os.environ meanwhile
    in_a_process = functools.partial(run_process, env=env)
    with ThreadPoolExecutor(max_workers=2) as pool:
        in_processes = {
            (c.id, existing): pool.submit(run_case, c, existing, tmp_path_factory.mktemp(c.id), in_a_process)
            for c, existing in wanted
            if through_a_process(c)
        }
        in_process = {
            (c.id, existing): run_case(c, existing, tmp_path_factory.mktemp(c.id), invoke)
            for c, existing in wanted
            if not c.process
        }
        return {
            key: (in_process.get(key), in_processes[key].result() if key in in_processes else None)
            for key in {(c.id, existing) for c, existing in wanted}
        }


def check_outcome(o: Outcome, c: Case, existing: bool) -> None:
    assert_clean_error(o.result, c.code, *c.fragments)
    if not c.streams:
        assert o.result.out == b"", f"a failed command wrote {len(o.result.out)} bytes to stdout"
    leftovers = [str(p.relative_to(o.folder)) for p in o.folder.rglob(TEMP_GLOB)]
    assert not leftovers, f"temp files left behind: {leftovers}"
    after = snapshot(o.folder)
    assert sorted(after) == sorted(o.before), "the command created or removed files"
    changed = [name for name in o.before if after[name] != o.before[name]]
    assert not changed, f"the command changed {changed}"
    if existing:
        assert (o.folder / c.output).read_bytes() == PRECIOUS


def as_said(o: Outcome, c: Case) -> tuple[int, bytes | None, str]:
    """What a run said, with its folder's name (which differs between two runs) taken out;
    without the partial stdout of a `streams` case (how much is written first is timing)."""
    out = None if c.streams else o.result.out.replace(bytes(o.folder), b"<folder>")
    return o.result.code, out, o.result.err.replace(str(o.folder), "<folder>")


@pytest.mark.parametrize(("c", "existing"), VARIANTS)
def test_bad_input_is_one_clean_error_line_and_writes_nothing(outcomes, c, existing):
    here, there = outcomes[c.id, existing]
    for o in (here, there):
        if o is not None:
            check_outcome(o, c, existing)
    if here is not None and there is not None:
        assert as_said(here, c) == as_said(there, c), "the console script and normcli.cli.main in process differ"


def test_the_catalogue_is_complete():
    """The README states the catalogue's size: a case added here is counted there too."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "two cases share an id"
    stated = re.findall(r"(\d+) cases of the bad-input catalogue", (REPO / "README.md").read_text())
    assert stated == [str(len(CASES))], f"the README states {stated}; the catalogue has {len(CASES)} cases"


# --- cases that need more than a folder and a command -----------------------------------------------


@pytest.mark.parametrize("method", ["zscore", "minmax"])
def test_a_constant_column_succeeds_with_one_warning(tmp_path, method):
    (tmp_path / "c.csv").write_text("x,y\n5,1\n5,2\n5,3\n")
    r = run("fit", "c.csv", "-m", method, "-o", "s.json", cwd=tmp_path)
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, r.err
    assert "'x'" in warnings[0] and "constant" in warnings[0]
    assert "Traceback" not in r.err and "error:" not in r.err
    fitted = {c["name"]: c["fitted"] for c in json.loads((tmp_path / "s.json").read_text())["columns"]}
    assert set(fitted) == {"x", "y"}
    r = run("transform", "c.csv", "-s", "s.json", "-q", cwd=tmp_path)
    assert r.code == 0 and r.err == "", r.err
    xs = [float(line.split(",")[0]) for line in r.text.splitlines()[1:]]
    assert xs == [0.0] * 3, r.text  # the range's low end (minmax) or 0 (zscore); never inf or NaN


def test_a_constant_column_warning_is_silenced_by_quiet(tmp_path):
    (tmp_path / "c.csv").write_text("x\n5\n5\n")
    r = run("fit", "c.csv", "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path)
    assert r.code == 0 and r.err == "", r.err


def run_to(stdout, *args: str, cwd: Path) -> Run:
    proc = subprocess.run(
        [str(NORMCLI), *args], stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL
    )
    return Run(proc.returncode, b"", proc.stderr.decode())


@pytest.mark.parametrize(
    "args",
    [
        ("transform", "data.csv", "-s", "s.json"),
        ("transform", "data.csv", "-s", "s.json", "--output-format", "parquet"),
        ("fit", "data.csv", "-m", "zscore"),
        ("lrn", "acts.npy", "--size", "5", "-q"),
    ],
    ids=["transform-csv", "transform-parquet", "fit", "lrn"],
)
def test_stdout_on_a_full_disk_is_one_clean_error(tmp_path, args):
    with_data(acts__npy=npy_bytes(ACTS))(tmp_path)
    before = snapshot(tmp_path)
    with open("/dev/full", "wb") as full:
        r = run_to(full, *args, cwd=tmp_path)
    assert_clean_error(r, 1, "No space left")
    assert snapshot(tmp_path) == before


@contextlib.contextmanager
def unwritable_folder(folder: Path):
    """A folder nobody can create files in: mode 0555 for ordinary users; for root (who ignores
    modes) the immutable attribute. Yields None when neither works (then /sys is used instead)."""
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    try:
        if os.access(folder, os.W_OK):
            immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
            if not immutable:
                yield None
                return
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)


@pytest.mark.parametrize(
    "args",
    [
        ("transform", "data.csv", "-s", "s.json", "-o"),
        ("fit", "data.csv", "-m", "zscore", "-o"),
        ("lrn", "acts.npy", "--size", "3", "-o"),
    ],
    ids=["transform", "fit", "lrn"],
)
def test_output_into_a_read_only_folder(tmp_path, args):
    with_data(acts__npy=npy_bytes(ACTS))(tmp_path)
    name = "out.npy" if args[0] == "lrn" else "out.csv" if args[0] == "transform" else "out.json"
    with unwritable_folder(tmp_path / "ro") as ro:
        target = f"ro/{name}" if ro is not None else f"/sys/{name}"
        before = snapshot(tmp_path)
        r = run(*args, target, cwd=tmp_path)
        assert_clean_error(r, 1, target)
        assert any(why in r.err for why in ("Permission denied", "Operation not permitted")), r.err
        assert r.out == b""
        assert snapshot(tmp_path) == before


def test_output_onto_a_file_in_proc_is_refused_cleanly(tmp_path):
    with_data()(tmp_path)
    r = run("transform", "data.csv", "-s", "s.json", "-o", "/proc/version", "--output-format", "csv", cwd=tmp_path)
    assert_clean_error(r, 1, "/proc/version")
    assert r.out == b""


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (1, 0, 2, 2)], ids=["no-samples", "no-channels"])
def test_lrn_of_an_empty_array_writes_an_empty_array(tmp_path, shape):
    """Like torch's LRN of an empty batch: nothing to normalize is not an error."""
    np.save(tmp_path / "e.npy", np.zeros(shape, dtype=np.float32))
    r = run("lrn", "e.npy", "--size", "3", "-o", "out.npy", "-q", cwd=tmp_path)
    assert r.code == 0 and r.err == "", r.err
    out = np.load(tmp_path / "out.npy")
    assert (out.shape, out.dtype) == (shape, np.float32)


# --- finite values whose statistics overflow float64 (std of 1e308 and 1.5e308 is inf) -------------------

HUGE = "x,y\n1e308,1\n1.5e308,2\n"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("minmax", {"x": [0.0, 1.0], "y": [0.0, 1.0]}),
        ("atan", {"x": [1.0, 1.0], "y": [0.5, math.atan(2) * 2 / math.pi]}),  # atan(1e308) * 2/pi rounds to 1
    ],
)
def test_huge_finite_values_can_be_fitted_by_methods_that_need_no_std(tmp_path, method, expected):
    (tmp_path / "h.csv").write_text(HUGE)
    r = run("fit", "h.csv", "-m", method, "-o", "s.json", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("transform", "h.csv", "-s", "s.json", "-o", "out.csv", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    rows = [line.split(",") for line in (tmp_path / "out.csv").read_text().splitlines()]
    assert rows[0] == ["x", "y"]
    for j, name in enumerate(rows[0]):
        assert [float(row[j]) for row in rows[1:]] == pytest.approx(expected[name], rel=1e-15), name


def test_zscore_of_values_near_1e154_fits(tmp_path):
    """std is 8.2e153, far inside float64; only a sum of squares would overflow on the way."""
    (tmp_path / "h.csv").write_text("x\n0\n1e154\n2e154\n")
    r = run("fit", "h.csv", "-m", "zscore", "-o", "s.json", cwd=tmp_path)
    assert r.code == 0, r.err
    fitted = json.loads((tmp_path / "s.json").read_text())["columns"][0]["fitted"]
    assert fitted["std"] == pytest.approx(np.std([0, 1, 2]) * 1e154, rel=1e-12)  # np.std overflows here


def test_zscore_near_the_float64_limit_fits(tmp_path):
    """Mean 1.25e308 and std 2.5e307 are float64 numbers; only their sums of squares are not."""
    (tmp_path / "h.csv").write_text(HUGE)
    r = run("fit", "h.csv", "-m", "zscore", "--columns", "x", "-o", "s.json", cwd=tmp_path)
    assert r.code == 0, r.err
    fitted = json.loads((tmp_path / "s.json").read_text())["columns"][0]["fitted"]
    assert fitted["mean"] == pytest.approx(1.25e308, rel=1e-15)
    assert fitted["std"] == pytest.approx(2.5e307, rel=1e-15)


def test_stats_of_huge_finite_values_as_json(tmp_path):
    (tmp_path / "h.csv").write_text(HUGE)
    r = run("stats", "h.csv", "--json", cwd=tmp_path)
    assert r.code == 0, r.err
    assert json.loads(r.out)["x"]["max"] == 1.5e308


def test_stats_json_report_of_a_transform_with_huge_values(tmp_path):
    (tmp_path / "h.csv").write_text("x\n1e308\n-1e308\n")
    (tmp_path / "s.json").write_text(normcli.fit({"x": np.array([1.0, 2.0])}, "minmax").to_json())
    r = run("transform", "h.csv", "-s", "s.json", "-o", "out.csv", "--stats-json", "st.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert json.loads((tmp_path / "st.json").read_text())["rows"] == 2


def test_a_log_offset_that_overflows_is_one_line_not_a_python_warning(tmp_path):
    (tmp_path / "lo.csv").write_text("x\n1e308\n5\n")
    r = run("fit", "lo.csv", "-m", "log", "--log-offset", "1e308", "--log-normalize", "-o", "s.json", cwd=tmp_path)
    assert_clean_error(r, 1, "'x'", "overflows float64 for 1 value(s)", "--log-offset")
    assert not (tmp_path / "s.json").exists()
