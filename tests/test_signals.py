"""Pipes, signals and odd standard streams: what happens when the world around `normcli` goes away.

A closed pipe ends the command quietly (exit 0); Ctrl-C and SIGTERM while an output file is
being written leave neither the file nor its temporary sibling (exit 130 / 143); SIGKILL, which
cannot be caught, leaves the previous output intact; empty or closed stdin is a clear error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import normcli
from normcli.cli import main

from conftest import NORMCLI, SAMPLE, Run, assert_clean_error, run

PRECIOUS = b"the previous output, which must survive\n"


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A folder with big.csv (2M rows, ~55 MB), its scaler s.json, and big.npy (128 MiB of float32
    activations): enough work that a command is still writing when the test signals it."""
    folder = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    columns = {name: rng.integers(0, 1_000_000, 2_000_000) for name in "abcd"}
    pacsv.write_csv(pa.table(columns), folder / "big.csv")
    normcli.fit({k: v[:10_000] for k, v in columns.items()}, "zscore").save(folder / "s.json")
    acts = np.lib.format.open_memmap(folder / "big.npy", mode="w+", dtype=np.float32, shape=(32, 64, 128, 128))
    acts[:] = rng.random(acts.shape, dtype=np.float32)
    acts.flush()
    del acts
    return folder


def in_folder(big: Path, tmp_path: Path) -> Path:
    """Links to the big inputs in a fresh folder, so each test sees only its own files."""
    for name in ("big.csv", "s.json", "big.npy"):
        (tmp_path / name).symlink_to(big / name)
    return tmp_path


def temp_files(folder: Path, output: str) -> list[Path]:
    return sorted(folder.glob(f".{output}.*.normcli-tmp"))


def default_sigint() -> None:
    """The child must get Python's own Ctrl-C handling even if SIGINT is ignored where pytest runs."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(folder: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(NORMCLI), *args],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=default_sigint,
    )


def wait_for_temp_file(proc: subprocess.Popen, folder: Path, output: str, min_size: int = 0) -> Path:
    """Poll until the command has created (and written `min_size` bytes into) its temp file."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for tmp in temp_files(folder, output):
            try:
                if tmp.stat().st_size >= min_size:
                    return tmp
            except FileNotFoundError:
                pass
        assert proc.poll() is None, f"normcli ended ({proc.returncode}) before writing: {proc.stderr.read().decode()}"
        time.sleep(0.001)
    proc.kill()
    raise AssertionError(f"no temp file for {output} appeared")


def finish(proc: subprocess.Popen) -> Run:
    _, err = proc.communicate(timeout=60)
    return Run(proc.returncode, b"", err.decode())


COMMANDS = {
    "transform": (("transform", "big.csv", "-s", "s.json", "-o", "out.csv"), "out.csv"),
    "lrn": (("lrn", "big.npy", "--size", "5", "-o", "out.npy"), "out.npy"),
}


# --- (a) a closed pipe --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "head"),
    [
        ("transform big.csv -s s.json", "head -1"),
        ("transform big.csv -s s.json --output-format parquet", "head -c 100"),
        ("lrn big.npy --size 5", "head -c 100"),
    ],
    ids=["csv", "parquet", "lrn-npy"],
)
def test_a_closed_pipe_ends_the_command_quietly(big, tmp_path, command, head):
    folder = in_folder(big, tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    script = f"{NORMCLI} {command} | {head} > /dev/null; echo ${{PIPESTATUS[0]}}"
    p = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert p.stdout.strip() == "0", (p.stdout, p.stderr)
    assert p.stderr == ""
    assert list(scratch.iterdir()) == [], "scratch files left in TMPDIR"
    assert not list(folder.glob(".*.normcli-tmp"))


def test_head_sees_the_header_of_a_transform(big, tmp_path):
    folder = in_folder(big, tmp_path)
    script = f"{NORMCLI} transform big.csv -s s.json | head -1; echo ${{PIPESTATUS[0]}}"
    p = subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=120)
    assert p.stdout.splitlines() == ["a,b,c,d", "0"], p.stdout
    assert p.stderr == ""


# --- (b) Ctrl-C and SIGTERM while writing ----------------------------------------------------------------


SIGNALS = [
    pytest.param(signal.SIGINT, 130, "interrupted", id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, "termin", id="SIGTERM"),
]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("sig", "code", "word"), SIGNALS)
def test_a_signal_while_writing_leaves_no_output_and_no_temp_file(big, tmp_path, command, sig, code, word):
    folder = in_folder(big, tmp_path)
    args, output = COMMANDS[command]
    proc = start(folder, *args)
    wait_for_temp_file(proc, folder, output)
    proc.send_signal(sig)
    r = finish(proc)
    assert_clean_error(r, code, word)
    assert not (folder / output).exists()
    assert temp_files(folder, output) == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_signal_while_writing_keeps_the_previous_output(big, tmp_path, command):
    folder = in_folder(big, tmp_path)
    args, output = COMMANDS[command]
    (folder / output).write_bytes(PRECIOUS)
    proc = start(folder, *args)
    wait_for_temp_file(proc, folder, output, min_size=1)
    proc.send_signal(signal.SIGTERM)
    assert_clean_error(finish(proc), 143, "termin")
    assert (folder / output).read_bytes() == PRECIOUS
    assert temp_files(folder, output) == []


def test_ctrl_c_just_after_the_temp_file_is_created_removes_it(tmp_path, monkeypatch, capsys):
    """Ctrl-C can land at any instant, also between creating the temp file and starting to
    write it (seen end to end about once in 25 runs on a busy machine); it must not leave
    the temp file behind."""
    import normcli.io.atomic as atomic

    (tmp_path / "data.csv").write_text("x\n1\n2\n")
    monkeypatch.chdir(tmp_path)
    real_open = os.open

    def open_then_ctrl_c(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        if flags & os.O_CREAT and str(path).endswith(atomic.TMP_SUFFIX):
            os.close(fd)
            raise KeyboardInterrupt  # the file exists, the caller has not seen its name back
        return fd

    monkeypatch.setattr(atomic.os, "open", open_then_ctrl_c)
    sigterm = signal.getsignal(signal.SIGTERM)  # main() installs its own handler
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["fit", "data.csv", "-m", "zscore", "-o", "out.json", "-q"])
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    assert exit_info.value.code == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


# --- (c) SIGKILL -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_sigkill_while_writing_leaves_the_previous_output_intact(big, tmp_path, command):
    folder = in_folder(big, tmp_path)
    args, output = COMMANDS[command]
    (folder / output).write_bytes(PRECIOUS)
    proc = start(folder, *args)
    tmp = wait_for_temp_file(proc, folder, output, min_size=1)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (folder / output).read_bytes() == PRECIOUS
    for leftover in temp_files(folder, output):  # expected after SIGKILL; nothing could remove it
        assert leftover == tmp
        leftover.unlink()


# --- (d) empty and closed standard streams ---------------------------------------------------------------


@pytest.fixture
def small(tmp_path) -> Path:
    (tmp_path / "data.csv").write_text("x,y\n1,2\n3,5\n")
    normcli.fit({"x": np.array([1.0, 3.0]), "y": np.array([2.0, 5.0])}, "zscore").save(tmp_path / "s.json")
    return tmp_path


STDIN_COMMANDS = {
    "fit": ("fit", "-", "-m", "zscore", "-o", "out.json"),
    "transform": ("transform", "-", "-s", "s.json", "-o", "out.csv"),
    "stats": ("stats", "-"),
    "stats-parquet": ("stats", "-", "--format", "parquet"),
    "transform-npy": ("transform", "-", "-s", "s.json", "--format", "npy", "-o", "out.npy"),
    "scaler-from-stdin": ("transform", "data.csv", "-s", "-", "-o", "out.csv"),
    "lrn": ("lrn", "-", "--size", "3", "-o", "out.npy"),
}


@pytest.mark.parametrize("args", list(STDIN_COMMANDS.values()), ids=list(STDIN_COMMANDS))
def test_empty_stdin_is_a_clear_error(small, args):
    r = run(*args, stdin=b"", cwd=small)
    assert_clean_error(r, 1, "<stdin>", "empty")
    assert sorted(p.name for p in small.iterdir()) == ["data.csv", "s.json"]


@pytest.mark.parametrize("command", ["fit", "transform", "stats"])
def test_stdin_from_dev_null_is_a_clear_error(small, command):
    proc = subprocess.run(
        [str(NORMCLI), *STDIN_COMMANDS[command]], cwd=small, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    assert_clean_error(Run(proc.returncode, proc.stdout, proc.stderr.decode()), 1, "<stdin>", "empty")


def run_in_bash(folder: Path, args: tuple[str, ...], redirect: str) -> Run:
    """Run normcli with a shell redirection such as `0<&-` (stdin closed, not merely empty)."""
    p = subprocess.run(
        ["bash", "-c", f'"$0" "$@" {redirect}', str(NORMCLI), *args], cwd=folder, capture_output=True, timeout=60
    )
    return Run(p.returncode, p.stdout, p.stderr.decode())


@pytest.mark.parametrize("command", ["fit", "transform", "stats", "scaler-from-stdin"])
def test_closed_stdin_is_a_clear_error(small, command):
    r = run_in_bash(small, STDIN_COMMANDS[command], "0<&-")
    assert_clean_error(r, 1, "stdin")
    assert "internal error" not in r.err
    assert sorted(p.name for p in small.iterdir()) == ["data.csv", "s.json"]


@pytest.mark.parametrize(
    "args",
    [("transform", "data.csv", "-s", "s.json", "-q"), ("fit", "data.csv", "-m", "zscore", "-q")],
    ids=["transform", "fit"],
)
def test_closed_stdout_is_a_clear_error(small, args):
    r = run_in_bash(small, args, ">&-")
    assert_clean_error(r, 1, "stdout")
    assert "internal error" not in r.err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_stdin_stalls_mid_stream_ends_the_command(tmp_path, sig, code):
    """The reader thread is stuck in a read of a silent pipe: the signal must still end the
    command promptly (not hang, not abort at shutdown) and leave no temp file."""
    text = (SAMPLE / "houses.csv").read_bytes()
    header, body = text.split(b"\n", 1)
    assert run("fit", SAMPLE / "houses.csv", "-m", "zscore", "-o", tmp_path / "s.json", "-q").code == 0
    out = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [str(NORMCLI), "transform", "-", "-s", str(tmp_path / "s.json"), "-o", str(out), "-q"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(header + b"\n" + body * 400)  # several batches, then silence: stdin stays open
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".out.csv.*.normcli-tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(sig)
    try:
        assert proc.wait(timeout=10) == code
    finally:
        proc.kill()
        proc.stdin.close()
    assert proc.stderr.read().decode().strip() in ("error: interrupted", "error: terminated")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
