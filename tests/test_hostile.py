"""A hostile world (issue 9, items 7-11 and 15): untrusted text on the terminal, outputs that
must appear together or not at all, a closed terminal, inputs that cannot be read twice, a
memory-mapped file truncated while it is read, and messages that must be one clear line.

Each test runs the installed `normcli` on files it makes, as a user would; the error cases
that need only a folder and a command are in HOSTILE_CASES of test_errors.py.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import normcli
from normcli.io import atomic
from normcli.untrusted import visible

from conftest import NORMCLI, Run, assert_clean_error, run

XY = "x,y\n1,10\n2,20\n3,30\n"
HOSTILE_NAMES = ["[/]", "[red]x[/red]", ":thumbs_up:", "[link=https://example.com]l[/link]", "e\x1b[2Jz"]
SHOWN_NAMES = ["[/]", "[red]x[/red]", ":thumbs_up:", "[link=https://example.com]l[/link]", "e\\x1b[2Jz"]


@pytest.fixture
def xy(tmp_path) -> Path:
    """xy.csv and its minmax fit xy.json."""
    (tmp_path / "xy.csv").write_text(XY)
    normcli.fit({"x": np.array([1.0, 2, 3]), "y": np.array([10.0, 20, 30])}, "minmax").save(tmp_path / "xy.json")
    return tmp_path


def hostile_csv(folder: Path) -> Path:
    """Columns named with rich markup, an emoji code, a hyperlink, an ESC sequence and a line
    break (quoted, as CSV allows)."""
    header = ",".join(HOSTILE_NAMES) + ',"a\nb"'
    rows = ["1,2,3,4,5,6", "2,4,6,8,10,12", "3,6,9,12,15,18"]
    path = folder / "h.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def assert_literal(text: str) -> None:
    """Every hostile name shown as written (escapes for control characters), nothing interpreted."""
    for name in SHOWN_NAMES:
        assert name in text, (name, text)
    assert "a\\nb" in text
    assert "\x1b" not in text and "\N{THUMBS UP SIGN}" not in text


# --- item 7: untrusted text is shown literally ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("fit", "h.csv", "-m", "minmax", "-o", "s.json"), ("stats", "h.csv")],
    ids=["fit", "stats"],
)
def test_markup_emoji_links_and_escapes_in_column_names_are_shown_as_text(tmp_path, args):
    hostile_csv(tmp_path)
    r = run(*args, cwd=tmp_path)
    assert r.code == 0, r.err
    shown = r.text if args[0] == "stats" else r.err  # stats prints its table on stdout
    assert_literal(shown)
    assert "\x1b" not in r.err and b"\x1b" not in r.out
    if args[0] == "fit":
        names = [c["name"] for c in json.loads((tmp_path / "s.json").read_text())["columns"]]
        assert names == [*HOSTILE_NAMES, "a\nb"]  # the data itself is kept as it is


def test_transform_report_and_warnings_quote_hostile_names_literally(tmp_path):
    path = hostile_csv(tmp_path)
    assert run("fit", path, "-m", "minmax", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    (tmp_path / "new.csv").write_text(path.read_text().replace("3,6,9,12,15,18", "30,60,90,120,150,180"))
    r = run("transform", "new.csv", "-s", "s.json", "-o", "out.csv", cwd=tmp_path)
    assert r.code == 0, r.err
    assert_literal(r.err)
    warnings = [line for line in r.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 6 and any("[/]" in w for w in warnings), r.err


def run_with_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run normcli with stderr on a pseudo-terminal (so rich colours and would render links)."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(
        [str(NORMCLI), *args],
        cwd=cwd,
        stderr=slave,
        stdout=subprocess.DEVNULL,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode()


def test_on_a_terminal_nothing_from_the_data_becomes_a_command_a_link_or_an_emoji(tmp_path):
    hostile_csv(tmp_path)
    code, err = run_with_terminal(["fit", "h.csv", "-m", "minmax", "-o", "s.json"], tmp_path)
    assert code == 0, err
    assert "\x1b]8;" not in err  # OSC 8: a terminal hyperlink
    assert "\x1b[2J" not in err  # clear screen
    colours_removed = re.sub(r"\x1b\[[0-9;]*m", "", err)
    assert "\x1b" not in colours_removed  # colours are the only escape sequences written
    assert_literal(colours_removed.replace("\r\n", "\n"))


def test_the_progress_bar_shows_a_path_with_markup_as_text(tmp_path):
    """The bar appears on a terminal after two seconds of work; its label is the input's path."""
    folder = tmp_path / "["
    folder.mkdir()
    fifo = folder / "]x.csv"  # the path "[/]x.csv" holds the closing tag [/]
    os.mkfifo(fifo)
    body = "".join(f"{i},{i % 7}\n" for i in range(300_000)).encode()

    def slow_writer() -> None:
        with open(fifo, "wb") as fh:
            fh.write(b"x,y\n" + body)
            fh.flush()
            time.sleep(3)  # past the bar's two-second delay, with batches still to come
            fh.write(body)

    writer = threading.Thread(target=slow_writer, daemon=True)
    writer.start()
    code, err = run_with_terminal(["stats", "[/]x.csv", "--json"], tmp_path)
    writer.join(timeout=10)
    assert code == 0, err
    assert "[/]x.csv" in err  # the bar was drawn, with the path as its label


def test_a_path_with_markup_is_written_and_shown_as_it_is(xy):
    folder = xy / "[red"
    folder.mkdir()
    (folder / "]x.csv").write_text(XY)  # the path "[red/]x.csv" holds the closing tag [/]
    (xy / "out.csv").write_text("the previous output\n")
    r = run("transform", "[red/]x.csv", "-s", "xy.json", "-o", "out.csv", cwd=xy)
    assert r.code == 0, r.err
    assert "transform: [red/]x.csv" in r.err
    assert (xy / "out.csv").read_text() == "x,y\n0.0,0.0\n0.5,0.5\n1.0,1.0\n"


def test_explain_shows_a_hostile_path_without_its_escape_sequence(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((1, 3, 2, 2), np.float32))
    name = "e\x1b[2J.npy"
    os.rename(tmp_path / "a.npy", tmp_path / name)
    r = run("lrn", name, "--size", "3", "--explain", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "input: e\\x1b[2J.npy" in r.text and b"\x1b" not in r.out


@given(st.text())
def test_visible_text_is_one_printable_line(text):
    shown = visible(text)
    assert shown.isprintable()  # no control character, no line break, no lone surrogate
    if text.isprintable():
        assert shown == text


def test_visible_shows_undecodable_bytes_of_a_path_as_bytes():
    assert visible(os.fsdecode(b"caf\xe9.csv")) == "caf\\xe9.csv"
    assert visible("a\u202eb\tc\r") == "a\\u202eb\\tc\\r"


# --- item 8: every output of a command is committed together ------------------------------------------


def test_outputs_are_renamed_together_and_a_failed_rename_puts_the_old_files_back(tmp_path, monkeypatch):
    first, second = tmp_path / "out.csv", tmp_path / "stats.json"
    first.write_text("old data\n")
    second.write_text("old stats\n")
    real_replace = os.replace

    def replace_failing_on_stats(src, dst):
        if str(dst).endswith("stats.json") and str(src).endswith(atomic.TMP_SUFFIX):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace_failing_on_stats)
    with pytest.raises(normcli.errors.DataError, match="stats.json: No space left on device"), atomic.staged_outputs():
        for path, text in ((first, "new data\n"), (second, "new stats\n")):
            with atomic.atomic_path(str(path)) as tmp:
                Path(tmp).write_text(text)
        assert first.read_text() == "old data\n"  # nothing renamed before the end
    assert first.read_text() == "old data\n"
    assert second.read_text() == "old stats\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "stats.json"]


def test_a_failure_after_the_outputs_were_written_leaves_the_old_ones(tmp_path):
    first = tmp_path / "out.csv"
    first.write_text("old\n")
    with pytest.raises(KeyboardInterrupt), atomic.staged_outputs():
        with atomic.atomic_path(str(first)) as tmp:
            Path(tmp).write_text("new\n")
        raise KeyboardInterrupt
    assert first.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


class Stopped(BaseException):
    """What the test's SIGTERM handler raises (the CLI's raises Terminated)."""


def test_a_signal_during_the_renames_waits_until_every_output_is_in_place(tmp_path, monkeypatch):
    first, second = tmp_path / "out.csv", tmp_path / "stats.json"
    first.write_text("old data\n")
    second.write_text("old stats\n")
    real_replace = os.replace

    def replace_then_sigterm(src, dst):
        real_replace(src, dst)
        signal.raise_signal(signal.SIGTERM)  # lands between the two renames

    def stop(signum, frame):
        raise Stopped

    monkeypatch.setattr(atomic.os, "replace", replace_then_sigterm)
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stopped), atomic.staged_outputs():
            for path, text in ((first, "new data\n"), (second, "new stats\n")):
                with atomic.atomic_path(str(path)) as tmp:
                    Path(tmp).write_text(text)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (first.read_text(), second.read_text()) == ("new data\n", "new stats\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "stats.json"]


def test_all_outputs_appear_when_the_command_succeeds(xy):
    r = run("transform", "xy.csv", "-s", "xy.json", "-o", "out.parquet", "--stats-json", "st.json", "-q", cwd=xy)
    assert r.code == 0, r.err
    assert pq.read_table(xy / "out.parquet").num_rows == 3
    assert json.loads((xy / "st.json").read_text())["rows"] == 3
    assert not list(xy.glob(".*normcli-tmp"))


# --- item 9: a closed terminal (SIGHUP), Ctrl-\ (SIGQUIT), a file size limit -------------------------------


def stalled_transform(folder: Path, *args: str, tmpdir: Path, preexec=None) -> subprocess.Popen:
    """A transform reading stdin that has sent some rows and then stays silent (still open)."""
    proc = subprocess.Popen(
        [str(NORMCLI), "transform", "-", "-s", "xy.json", *args],
        cwd=folder,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        preexec_fn=preexec,
    )
    assert proc.stdin is not None
    proc.stdin.write(("x,y\n" + "1,10\n2,20\n" * 200_000).encode())  # several batches
    proc.stdin.flush()
    return proc


def wait_for(condition, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the command never reached the state to test"
        time.sleep(0.02)
    time.sleep(0.3)  # let it settle into waiting for more input


ENDING = [
    pytest.param(signal.SIGHUP, 129, "terminated by SIGHUP (the terminal closed)", id="SIGHUP"),
    pytest.param(signal.SIGQUIT, 131, "terminated by SIGQUIT", id="SIGQUIT"),
]


@pytest.mark.parametrize(("sig", "code", "message"), ENDING)
def test_a_closed_terminal_or_ctrl_backslash_leaves_no_temp_file(xy, sig, code, message):
    scratch = xy / "scratch"
    scratch.mkdir()
    (xy / "out.csv").write_text("the previous output\n")
    proc = stalled_transform(xy, "-o", "out.csv", "-q", tmpdir=scratch)
    wait_for(lambda: list(xy.glob(".out.csv.*.normcli-tmp")), proc)
    proc.send_signal(sig)
    try:
        assert proc.wait(timeout=20) == code
    finally:
        proc.kill()
        proc.stdin.close()
    assert proc.stderr.read().decode() == f"error: {message}\n"
    assert (xy / "out.csv").read_text() == "the previous output\n"
    assert not list(xy.glob(".*normcli-tmp"))


@pytest.mark.parametrize(("sig", "code", "message"), ENDING)
def test_the_npy_scratch_file_of_a_transform_to_stdout_is_removed_on_a_signal(xy, sig, code, message):
    scratch = xy / "scratch"
    scratch.mkdir()
    proc = stalled_transform(xy, "--output-format", "npy", "-q", tmpdir=scratch)
    wait_for(lambda: any(scratch.iterdir()), proc)
    proc.send_signal(sig)
    try:
        assert proc.wait(timeout=20) == code
    finally:
        proc.kill()
        proc.stdin.close()
    assert list(scratch.iterdir()) == []


def test_sighup_ignored_by_nohup_stays_ignored(xy):
    proc = stalled_transform(
        xy, "-o", "out.csv", "-q", tmpdir=xy, preexec=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)
    )
    wait_for(lambda: list(xy.glob(".out.csv.*.normcli-tmp")), proc)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert proc.poll() is None  # still working, as nohup asked
    _, err = proc.communicate(timeout=60)  # end of input: the command finishes
    assert proc.returncode == 0, err
    assert (xy / "out.csv").read_text().count("\n") == 400_001


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("-o", "out.csv"), ("cannot write out.csv", "File too large")),
        (("--output-format", "npy"), ("temporary folder", "File too large", "TMPDIR")),
    ],
    ids=["output", "npy-scratch"],
)
def test_a_file_size_limit_is_an_error_line_not_a_kill(xy, args, fragments):
    """Past `ulimit -f` the kernel sends SIGXFSZ, which would kill the process where it stands."""
    scratch = xy / "scratch"
    scratch.mkdir()
    data = ("x,y\n" + "1,10\n2,20\n" * 100_000).encode()
    p = subprocess.run(
        [str(NORMCLI), "transform", "-", "-s", "xy.json", "-q", *args],
        cwd=xy,
        input=data,
        capture_output=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(scratch)},
        preexec_fn=limit_file_size,
    )
    assert_clean_error(Run(p.returncode, b"", p.stderr.decode()), 1, *fragments)
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in xy.iterdir()) == ["scratch", "xy.csv", "xy.json"]


def test_a_full_temporary_folder_for_a_parquet_spool_is_named(tmp_path):
    sink = io.BytesIO()
    pq.write_table(pa.table({"x": np.arange(100_000.0)}), sink)  # 800 KB: more than the limit allows
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    p = subprocess.run(
        [str(NORMCLI), "stats", "-", "--format", "parquet"],
        input=sink.getvalue(),
        capture_output=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(scratch)},
        preexec_fn=limit_file_size,
    )
    r = Run(p.returncode, p.stdout, p.stderr.decode())
    assert_clean_error(r, 1, f"cannot spool <stdin> in the temporary folder {scratch}", "TMPDIR")
    assert list(scratch.iterdir()) == []


# --- item 10: inputs that can be read only once ---------------------------------------------------------


def big_xy(folder: Path, rows: int = 150_000) -> Path:
    """A CSV larger than the head normcli sniffs (1 MiB), so reading goes on after the head."""
    path = folder / "big.csv"
    path.write_text("x,y\n" + "".join(f"{i % 97},{i}\n" for i in range(rows)))
    return path


def assert_same_stats(got: dict, want: dict) -> None:
    """The same statistics, to the 1e-12 that a different batch split allows."""
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].keys() == want[name].keys(), name
        for key, value in want[name].items():
            if isinstance(value, float):
                assert got[name][key] == pytest.approx(value, rel=1e-12, abs=0), (name, key)
            else:  # counts, the type, the ddof
                assert got[name][key] == value, (name, key)


def feed_fifo(fifo: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def test_a_named_pipe_as_input_is_read_once_not_waited_on(tmp_path):
    big = big_xy(tmp_path)
    expected = run("stats", big, "--json")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = feed_fifo(fifo, big.read_bytes())
    r = run("stats", fifo, "--json")
    writer.join(timeout=10)
    assert r.code == 0, r.err
    assert_same_stats(json.loads(r.out), json.loads(expected.out))


def bash(script: str, cwd: Path) -> Run:
    p = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, timeout=120, env={**os.environ, "NORMCLI": str(NORMCLI)}
    )
    return Run(p.returncode, p.stdout, p.stderr.decode())


def test_process_substitution_csv_transform_gives_the_same_output(tmp_path):
    big = big_xy(tmp_path)
    assert run("fit", big, "-m", "zscore", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    assert run("transform", big, "-s", "s.json", "-o", "want.csv", "-q", cwd=tmp_path).code == 0
    r = bash('"$NORMCLI" transform <(cat big.csv) -s <(cat s.json) -o got.csv -q', tmp_path)
    assert r.code == 0, r.err
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "want.csv").read_bytes()


@pytest.mark.parametrize("fmt", ["parquet", "npy"])
def test_process_substitution_of_parquet_and_npy(tmp_path, fmt):
    x = np.arange(20_000.0)
    if fmt == "parquet":
        pq.write_table(pa.table({"x": x, "y": x * 2}), tmp_path / "d.parquet")
    else:
        np.save(tmp_path / "d.npy", np.stack([x, x * 2], axis=1))
    expected = run("stats", f"d.{fmt}", "--json", cwd=tmp_path)
    r = bash(f'"$NORMCLI" stats <(cat d.{fmt}) --format {fmt} --json', tmp_path)
    assert r.code == 0, r.err
    got, want = json.loads(r.out), json.loads(expected.out)
    assert len(got) == 2
    assert_same_stats(dict(zip(want, got.values(), strict=True)), want)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_lrn_of_a_named_pipe_equals_lrn_of_the_file(tmp_path, suffix):
    acts = np.random.default_rng(2).random((2, 6, 3, 3)).astype(np.float32)
    if suffix == ".npy":
        np.save(tmp_path / "a.npy", acts)
    else:
        np.savez(tmp_path / "a.npz", acts=acts)
    key = ["--key", "acts"] if suffix == ".npz" else []
    assert run("lrn", f"a{suffix}", *key, "--size", "3", "-o", "want.npy", "-q", cwd=tmp_path).code == 0
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    writer = feed_fifo(fifo, (tmp_path / f"a{suffix}").read_bytes())
    r = run("lrn", fifo.name, *key, "--size", "3", "-o", "got.npy", "-q", cwd=tmp_path)
    writer.join(timeout=10)
    assert r.code == 0, r.err
    assert (tmp_path / "got.npy").read_bytes() == (tmp_path / "want.npy").read_bytes()


def test_parquet_on_stdin_is_spooled_and_the_spool_removed(tmp_path):
    sink = io.BytesIO()
    pq.write_table(pa.table({"x": np.arange(5000.0)}), sink)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    p = subprocess.run(
        [str(NORMCLI), "stats", "-", "--format", "parquet", "--json"],
        input=sink.getvalue(),
        capture_output=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["x"]["count"] == 5000
    assert list(scratch.iterdir()) == []


def test_a_stream_without_an_extension_is_read_as_csv_and_named_in_errors(tmp_path):
    # stats describes a text column now; fit refuses to scale one, naming the stream and the column
    r = bash('"$NORMCLI" fit <(printf "x,y\\n1,oops\\n") -m zscore --columns y -o s.json', tmp_path)
    assert_clean_error(r, 1, "/dev/fd/", "'y'")


class FailsAfter(io.RawIOBase):
    """A stream that gives `data`, then fails as a hung-up terminal does (EIO)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if not self._data.nbytes:
            raise OSError(5, "Input/output error")
        n = min(len(buf), self._data.nbytes)
        buf[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_an_input_that_fails_mid_stream_is_named_not_the_output(xy, monkeypatch, capsys):
    """A read error inside the writing of an output used to be reported as `cannot write OUTPUT`."""
    from normcli.cli import main

    class Stdin:
        buffer = io.BufferedReader(FailsAfter(("x,y\n" + "1,10\n2,20\n" * 300_000).encode()))

    monkeypatch.setattr(sys, "stdin", Stdin())
    monkeypatch.chdir(xy)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["transform", "-", "-s", "xy.json", "-o", "out.csv", "-q"])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: cannot read <stdin>: Input/output error\n"
    assert sorted(p.name for p in xy.iterdir()) == ["xy.csv", "xy.json"]


# --- item 11: a memory-mapped .npy truncated while it is read ---------------------------------------------

TRUNCATE_THEN_READ = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from normcli.errors import DataError
    from normcli.io.arrays import load_npy
    from normcli.io.npy_reader import ArrayReader
    from normcli.lrn_kernel import resolve_spec
    from normcli.pipeline import lrn_file

    path, case = sys.argv[1], sys.argv[2]
    order = "F" if case == "fortran" else "C"
    np.save(path, np.asarray(np.random.default_rng(0).random((64, 8, 16, 16)), order=order))
    try:
        if case == "lrn-window-on-axis-0":
            x = load_npy(path)
            os.truncate(path, 4096)
            spec = resolve_spec(ndim=4, convention="torch", size=3, channel_axis=0)
            lrn_file(x, os.devnull, spec, with_stats=False)
        else:
            reader = ArrayReader(path, axis=0 if case == "features-first" else 1)
            os.truncate(path, 4096)
            for batch in reader.batches():
                pass
    except DataError as exc:
        print(exc)
    """
)


@pytest.mark.parametrize("case", ["features-first", "fortran", "lrn-window-on-axis-0"])
def test_a_memory_map_truncated_while_read_is_an_error_not_sigbus(tmp_path, case):
    p = subprocess.run(
        [sys.executable, "-c", TRUNCATE_THEN_READ, str(tmp_path / "a.npy"), case],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, (p.returncode, p.stderr)  # -7 is SIGBUS
    assert "was truncated while being read" in p.stdout


# --- item 15: what used to end in an unclear message --------------------------------------------------------


def test_a_240_byte_output_name_is_written(xy):
    name = "a" * 236 + ".csv"  # the temp name adds 22 bytes: past the 255-byte limit unless shortened
    r = run("transform", "xy.csv", "-s", "xy.json", "-o", name, "-q", cwd=xy)
    assert r.code == 0, r.err
    assert (xy / name).read_text() == "x,y\n0.0,0.0\n0.5,0.5\n1.0,1.0\n"
    assert not list(xy.glob(".*normcli-tmp"))


def test_parquet_to_dev_stdout_is_written_as_stdout(xy):
    r = bash('"$NORMCLI" transform xy.csv -s xy.json -o /dev/stdout --output-format parquet -q | cat', xy)
    assert r.code == 0, r.err
    assert pq.read_table(pa.BufferReader(r.out)).column("x").to_pylist() == [0.0, 0.5, 1.0]


def test_lrn_of_a_big_endian_array_equals_lrn_of_the_native_one(tmp_path):
    acts = np.random.default_rng(1).random((2, 6, 3, 3)).astype(np.float32)
    np.save(tmp_path / "le.npy", acts)
    np.save(tmp_path / "be.npy", acts.astype(">f4"))
    for name in ("le", "be"):
        r = run("lrn", f"{name}.npy", "--size", "3", "-o", f"{name}_out.npy", "-q", cwd=tmp_path)
        assert r.code == 0, r.err
    np.testing.assert_array_equal(np.load(tmp_path / "be_out.npy"), np.load(tmp_path / "le_out.npy"))


def long_row_csv(path: Path, row_bytes: int) -> None:
    rows = ["x,t", *(f"{i},a" for i in range(150_000)), "7," + "b" * row_bytes, *(f"{i},c" for i in range(10))]
    path.write_text("\n".join(rows) + "\n")


def test_a_row_longer_than_the_block_is_read_with_a_bigger_block(tmp_path):
    long_row_csv(tmp_path / "long.csv", 3_000_000)
    r = run("stats", "long.csv", "--columns", "x", "--json", cwd=tmp_path)
    assert r.code == 0, r.err
    assert json.loads(r.out)["x"]["count"] == 150_011
    assert json.loads(r.out)["x"]["max"] == 149_999
    assert run("fit", "long.csv", "-m", "minmax", "--columns", "x", "-o", "s.json", "-q", cwd=tmp_path).code == 0
    r = run("transform", "long.csv", "-s", "s.json", "-o", "out.csv", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    kept = [line.split(",")[1] for line in (tmp_path / "out.csv").read_text().splitlines()]
    assert kept == [line.split(",")[1] for line in (tmp_path / "long.csv").read_text().splitlines()]


def test_a_full_temporary_folder_for_fit_apply_from_stdin_is_named(tmp_path):
    """fit --apply keeps stdin in a named temporary file (it is read twice): a folder without
    room for it is the same one-line error as the other spools, and nothing is left behind."""
    data = ("x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(100_000))).encode()  # ~900 KB
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    p = subprocess.run(
        [str(NORMCLI), "fit", "-", "-m", "zscore", "--apply", "-o", "out.csv", "-s", "s.json", "-q"],
        cwd=tmp_path,
        input=data,
        capture_output=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(scratch)},
        preexec_fn=limit_file_size,
    )
    r = Run(p.returncode, p.stdout, p.stderr.decode())
    assert_clean_error(r, 1, f"cannot spool <stdin> in the temporary folder {scratch}", "TMPDIR")
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]
