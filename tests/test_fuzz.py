"""Fuzzing: random bytes, CSV, JSON and .npy files through `normcli.cli.main` and the scaler parser.

Whatever the input, a command ends with exit code 0, 1 or 2 and never with an internal error or
a traceback; `Scaler.from_json` either returns a scaler or raises `DataError`. Bounded so the
whole file runs in well under a minute.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import normcli
from normcli.cli import main
from normcli.errors import DataError
from normcli.scaler import Scaler

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def _isolated_process():
    """main() installs a SIGTERM handler and honours NORMCLI_DEBUG; keep both out of pytest."""
    sigterm = signal.getsignal(signal.SIGTERM)
    debug = os.environ.pop("NORMCLI_DEBUG", None)
    yield
    signal.signal(signal.SIGTERM, sigterm)
    if debug is not None:
        os.environ["NORMCLI_DEBUG"] = debug


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def fresh(root: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=root))


HIDDEN_BY_DEFAULT = DeprecationWarning | PendingDeprecationWarning | ImportWarning | ResourceWarning


def call(capsys, argv: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    """Run the CLI in-process; return the exit code and stderr, and check that it ended cleanly."""
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with warnings.catch_warnings(record=True) as caught, pytest.raises(SystemExit) as exit_info:
            warnings.simplefilter("always")
            main([str(a) for a in argv])
    finally:
        sys.stdin = saved
    err = capsys.readouterr().err
    code = exit_info.value.code
    assert code in (0, 1, 2), (argv, code, err)
    assert "internal error" not in err, (argv, err)
    assert "Traceback" not in err, (argv, err)
    # a warning that Python shows by default would reach the user's terminal as two lines of source code
    shown = [w for w in caught if not issubclass(w.category, HIDDEN_BY_DEFAULT)]
    assert not shown, (argv, [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in shown])
    if code:
        lines = err.strip().splitlines()
        assert len(lines) >= 1 and lines[-1].startswith("error: "), (argv, err)
    return code, err


# --- strategies ------------------------------------------------------------------------------------------


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


# Inputs that once broke normcli, kept as explicit examples so every run tries them.
DAMAGED_NPY = npy(np.ones((3, 4))).replace(b"(3, 4)", b"(3, 4 ", 1)
EMPTY_ACTS = npy(np.zeros((1, 0, 2, 2), dtype=np.float32))
WIDE_NPY = npy(np.array([0.0, 2e154]))


METHODS = ["minmax", "zscore", "log", "atan", "reciprocal"]
EXTENSIONS = ["csv", "tsv", "parquet", "npy"]

odd_cells = st.one_of(
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e400", "-0", "0", "-1", "NA", "null", "true", "1,5", '"2"']),
    st.sampled_from(["99999999999999999999999", "0x10", " 3 ", "\u00e9t\u00e9", '"a\nb"', "\x00", "\u2212" + "1"]),
    st.text(alphabet="abc 019.-e\"'", max_size=6),
)
finite = st.one_of(st.integers(-(10**6), 10**6).map(str), st.floats(-1e6, 1e6).map(repr), st.sampled_from(["", "0"]))
COLUMN_KINDS = {
    "float": finite,
    "int": st.integers(-5, 10**12).map(str),
    "extreme": st.one_of(finite, st.floats().map(repr), st.sampled_from(["1e308", "-1e308", "5e-324", "-1"])),
    "text": st.text(alphabet='xyz ,"\u00e9', min_size=1, max_size=5).map(lambda t: '"' + t.replace('"', '""') + '"'),
    "mixed": st.one_of(finite, odd_cells),
}
names = st.one_of(st.sampled_from(["a", "b", "c", "price", "0", "", "a b", "\u00e9", '"q"']), st.text(max_size=4))


@st.composite
def csv_texts(draw) -> str:
    """Mostly well-formed CSV (so fit and transform get to run) with now and then an odd header,
    an odd cell, a text column or a ragged row."""
    width = draw(st.integers(1, 4))
    if draw(st.integers(0, 5)) == 0:
        header = draw(st.lists(names, min_size=width, max_size=width))
    else:
        header = draw(
            st.lists(st.sampled_from(["a", "b", "c", "price", "0"]), min_size=width, max_size=width, unique=True)
        )
    kinds = draw(
        st.lists(st.sampled_from(["float", "float", "int", "extreme", "text", "mixed"]), min_size=width, max_size=width)
    )
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        row = [draw(COLUMN_KINDS[kind]) for kind in kinds]
        if draw(st.integers(0, 15)) == 0:
            row = row[:-1] if len(row) > 1 else [*row, "1"]
        rows.append(",".join(row))
    text = ",".join(header) + "\n" + "".join(r + "\n" for r in rows)
    return text if draw(st.integers(0, 3)) else text.rstrip("\n")


def encode(text: str, latin1: bool) -> bytes:
    return text.encode("latin-1", errors="replace") if latin1 else text.encode("utf-8", errors="surrogatepass")


@st.composite
def fit_options(draw) -> list[str]:
    method = draw(st.sampled_from(METHODS))
    args = ["-m", method]
    own = {"minmax": {"--range", "--clip"}, "zscore": {"--ddof"}, "log": {"--base", "--log-offset", "--log-normalize"}}
    for flag, values in [
        ("--range", st.tuples(st.sampled_from(["0", "1", "-1", "inf", "1e308"]), st.sampled_from(["1", "0", "2"]))),
        ("--ddof", st.sampled_from(["0", "1", "5", "-1"])),
        ("--base", st.sampled_from(["2", "10", "2.718281828459045", "1", "0.5"])),
        ("--log-offset", st.sampled_from(["0", "1", "-1", "1e308", "nan"])),
        ("--log-normalize", st.just(None)),
        ("--clip", st.just(None)),
        ("--invalid", st.sampled_from(["error", "nan", "nan"])),
    ]:
        # mostly the method's own options, now and then one that belongs to another method
        if draw(st.integers(0, 2 if flag in own.get(method, {"--invalid"}) else 12)) == 0:
            value = draw(values)
            args += [flag] if value is None else [flag, *value] if isinstance(value, tuple) else [flag, value]
    if draw(st.integers(0, 3)) == 0:
        args += ["--columns", draw(st.sampled_from(["a", "b", "a,b", "price", "0"]))]
    return args


# --- random bytes ------------------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=600), ext=st.sampled_from(EXTENSIONS), command=st.sampled_from(["stats", "fit"]))
@example(data=b"id,pr\xe9ce\n1,2\n", ext="csv", command="stats")
@example(data=DAMAGED_NPY, ext="npy", command="stats")
def test_random_bytes_as_any_input(root, capsys, data, ext, command):
    folder = fresh(root)
    path = folder / f"data.{ext}"
    path.write_bytes(data)
    argv = ["stats", path] if command == "stats" else ["fit", path, "-m", "zscore", "-o", folder / "s.json", "-q"]
    if ext == "npy" and command == "fit":
        argv += ["--axis", "0"]
    call(capsys, argv)


@FUZZ
@given(data=st.binary(max_size=400), fmt=st.sampled_from(["csv", "tsv", "parquet", "npy"]))
@example(data=b"\x80\n1\n", fmt="csv")
def test_random_bytes_on_stdin(root, capsys, data, fmt):
    call(capsys, ["stats", "-", "--format", fmt], stdin=data)


@FUZZ
@given(data=st.binary(max_size=400), prefix=st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"PK"]))
def test_random_bytes_as_lrn_input(root, capsys, data, prefix):
    folder = fresh(root)
    path = folder / ("x.npz" if prefix == b"PK" else "x.npy")
    path.write_bytes(prefix + data)
    call(capsys, ["lrn", path, "--size", "3", "-o", folder / "out.npy", "-q"])


# --- random CSV through fit, transform, inverse and stats --------------------------------------------------------


@FUZZ
@given(
    text=csv_texts(), latin1=st.booleans(), options=fit_options(), out=st.sampled_from(EXTENSIONS), quiet=st.booleans()
)
@example(
    text="x\n1e308\n5\n",
    latin1=False,
    options=["-m", "log", "--log-offset", "1e308", "--log-normalize"],
    out="csv",
    quiet=False,
)
@example(text="x,y\n1e308,1\n1.5e308,2\n", latin1=False, options=["-m", "atan"], out="csv", quiet=True)
def test_random_csv_through_fit_transform_and_inverse(root, capsys, text, latin1, options, out, quiet):
    folder = fresh(root)
    path = folder / "data.csv"
    path.write_bytes(encode(text, latin1))
    q = ["-q"] if quiet else []
    call(capsys, ["stats", path])
    code, _ = call(capsys, ["fit", path, *options, "-o", folder / "s.json", *q])
    if code != 0:
        return
    target = folder / f"out.{out}"
    code, _ = call(capsys, ["transform", path, "-s", folder / "s.json", "-o", target, *q])
    if code == 0:
        call(capsys, ["inverse", target, "-s", folder / "s.json", "-o", folder / f"back.{out}", *q])


# --- scaler files ---------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 2**63, -1, 0])
    | st.floats()
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)

TABLE = {
    "price": np.array([100000.0, 250000.0, 175000.0]),
    "rooms": np.array([3.0, 4.0, 2.0]),
    "area": np.array([50.0, 80.0, 65.0]),
}
VALID_SCALERS = [
    normcli.fit(TABLE, "zscore", methods={"price": "log", "area": "minmax"}, normalize=True, clip=True).to_dict(),
    normcli.fit(TABLE, "atan", methods={"rooms": "reciprocal"}).to_dict(),
    normcli.fit(np.arange(12.0).reshape(3, 4), "minmax", range=(-1, 1)).to_dict(),
]
DATA_CSV = "id,price,rooms,area\nH1,100000,3,50\nH2,250000,4,80\nH3,1,-1,-5\n"


def with_value(path: tuple, value) -> str:
    data = json.loads(json.dumps(VALID_SCALERS[0]))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return json.dumps(data)


def paths(value, prefix=()):
    """Every (path, value) in a JSON tree."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


@st.composite
def mutated_scalers(draw) -> str:
    data = json.loads(json.dumps(draw(st.sampled_from(VALID_SCALERS))))
    for _ in range(draw(st.integers(1, 3))):
        candidates = [p for p, _ in paths(data) if p]
        path = draw(st.sampled_from(candidates))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    text = json.dumps(data)
    if draw(st.booleans()):
        return text
    cut = draw(st.integers(0, len(text)))
    return draw(st.sampled_from([text[:cut], text[:cut] + text[cut + 1 :], text.replace("1", "1e999", 1)]))


scaler_texts = st.one_of(mutated_scalers(), json_values.map(json.dumps), st.text(max_size=60))


@FUZZ
@given(text=scaler_texts, command=st.sampled_from(["transform", "inverse"]), npy=st.booleans())
@example(text=with_value(("columns", 0, "fitted", "max"), 10**400), command="transform", npy=False)
def test_random_scaler_files(root, capsys, text, command, npy):
    folder = fresh(root)
    (folder / "s.json").write_text(text, encoding="utf-8", errors="surrogatepass")
    if npy:
        np.save(folder / "data.npy", np.arange(12.0).reshape(3, 4) - 2)
        source = folder / "data.npy"
    else:
        source = folder / "data.csv"
        source.write_text(DATA_CSV)
    call(capsys, [command, source, "-s", folder / "s.json", "-o", folder / f"out{source.suffix}"])


@settings(max_examples=150, deadline=None, database=None)
@given(text=scaler_texts | st.binary(max_size=80))
@example(text=with_value(("columns", 0, "fitted", "max"), 10**400))
@example(text=with_value(("columns", 1, "stats", "count"), 10**400))
@example(text=with_value(("columns", 2, "options", "range"), [0, 10**400]))
@example(text=with_value(("columns", 1, "options", "ddof"), 10**400))
@example(text=with_value(("layout",), {"kind": "array", "ndim": 2**63, "axis": 0}))
@example(text=b"\xef\xbb\xbf" + json.dumps(VALID_SCALERS[0]).encode())
@example(text=json.dumps(VALID_SCALERS[0]).encode("utf-16"))
def test_scaler_from_json_raises_only_data_error(text):
    try:
        scaler = Scaler.from_json(text)
    except DataError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    assert isinstance(scaler, Scaler)
    assert scaler.columns
    for column in scaler.columns:
        assert all(math.isfinite(v) for v in column.fitted.values())


@settings(max_examples=100, deadline=None, database=None)
@given(text=mutated_scalers())
def test_a_scaler_that_loads_can_be_saved_and_loaded_again(text):
    try:
        scaler = Scaler.from_json(text)
    except DataError:
        return
    assert Scaler.from_json(scaler.to_json()) == scaler


# --- .npy files --------------------------------------------------------------------------------------------------

dtypes = st.sampled_from(["f2", "f4", "f8", ">f8", "i1", "u2", "i8", "?", "c8", "U2", "M8[s]", "V4"])
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=5).map(tuple)


@st.composite
def npy_files(draw) -> bytes:
    dtype = np.dtype(draw(dtypes))
    shape = draw(shapes)
    count = int(np.prod(shape, dtype=np.int64))
    raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape) if count else np.empty(shape, dtype)
    if draw(st.booleans()):
        array = np.asfortranarray(array)
    buf = io.BytesIO()
    np.save(buf, array)
    data = bytearray(buf.getvalue())
    mutation = draw(st.sampled_from(["none", "none", "truncate", "flip", "append"]))
    if mutation == "truncate" and data:
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif mutation == "flip" and data:
        i = draw(st.integers(0, min(len(data), 128) - 1))
        data[i] = draw(st.integers(0, 255))
    elif mutation == "append":
        data += draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@st.composite
def lrn_options(draw) -> list[str]:
    args = ["--convention", draw(st.sampled_from(["tf", "torch", "onnx", "caffe"]))]
    choices = {
        "--size": st.sampled_from(["1", "2", "3", "5", "0", "-3", "99"]),
        "--depth-radius": st.sampled_from(["0", "1", "2", "-1"]),
        "--alpha": st.sampled_from(["1e-4", "1", "0", "-1", "1e308", "nan"]),
        "--beta": st.sampled_from(["0.75", "0", "0.5", "-1", "1e308"]),
        "--bias": st.sampled_from(["1", "0", "2", "-1", "inf"]),
        "--channel-axis": st.sampled_from(["0", "1", "-1", "3", "9"]),
        "--layout": st.sampled_from(["NCHW", "nhwc", "XYZ"]),
        "--region": st.sampled_from(["across", "within"]),
    }
    for flag, values in choices.items():
        if draw(st.booleans()):
            args += [flag, draw(values)]
    return args


@FUZZ
@given(data=npy_files(), options=lrn_options(), quiet=st.booleans(), stats=st.booleans())
@example(data=EMPTY_ACTS, options=["--convention", "torch", "--size", "3"], quiet=True, stats=False)
@example(data=DAMAGED_NPY, options=["--convention", "torch", "--size", "3"], quiet=True, stats=False)
def test_random_npy_through_lrn(root, capsys, data, options, quiet, stats):
    folder = fresh(root)
    (folder / "x.npy").write_bytes(data)
    argv = ["lrn", folder / "x.npy", "-o", folder / "out.npy", *options]
    argv += ["-q"] if quiet else []
    argv += ["--stats-json", folder / "st.json"] if stats else []
    call(capsys, argv)


@FUZZ
@given(
    data=npy_files(),
    method=st.sampled_from(METHODS),
    axis=st.sampled_from([None, "0", "1", "-1", "3"]),
    dtype=st.sampled_from(["float64", "float32"]),
)
@example(data=WIDE_NPY, method="zscore", axis=None, dtype="float64")
def test_random_npy_through_fit_transform_and_stats(root, capsys, data, method, axis, dtype):
    folder = fresh(root)
    path = folder / "x.npy"
    path.write_bytes(data)
    axis_args = [] if axis is None else ["--axis", axis]
    call(capsys, ["stats", path, *axis_args])
    code, _ = call(capsys, ["fit", path, "-m", method, "--invalid", "nan", *axis_args, "-o", folder / "s.json"])
    if code == 0:
        call(capsys, ["transform", path, "-s", folder / "s.json", "-o", folder / "out.npy", "--dtype", dtype])
