"""The README's quick start, checked: it works in a virtual environment on a fresh machine
(PEP 668 systems refuse `pip install` outside one), and what it writes stays out of `git status`."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pyarrow.parquet as pq
import pytest

from conftest import REPO, SAMPLE, run

README = (REPO / "README.md").read_text()
QUICK_START = re.search(r"^## Quick start\n.*?^```bash\n(.*?)^```", README, re.M | re.S)
assert QUICK_START, "the README has no quick start block"
FIRST, SECOND = QUICK_START.group(1).strip().splitlines()
FIRST_STEPS = FIRST.split(" && ")
SECOND_STEPS = SECOND.split(" && ")
NORMCLI_STEPS = [shlex.split(step) for step in FIRST_STEPS if step.startswith("normcli ")]


def test_the_first_command_creates_and_uses_a_virtual_environment():
    assert FIRST_STEPS[:3] == ["python3 -m venv .venv", ". .venv/bin/activate", "pip install ."]
    assert len(NORMCLI_STEPS) == len(FIRST_STEPS) - 3 == 2


def test_the_second_command_reuses_it_for_the_tests():
    assert SECOND_STEPS == [". .venv/bin/activate", 'pip install ".[test]"', "pytest"]


def test_the_readme_says_to_use_a_virtual_environment():
    assert "virtual environment" in README.split("## Quick start")[1].split("\n## ")[0]


@pytest.mark.process  # as the user runs them: the installed console script
def test_the_quick_start_commands_run_and_write_what_they_say(tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "sample_data")
    for argv in NORMCLI_STEPS:
        r = run(*argv[1:], cwd=tmp_path)
        assert r.code == 0, (argv, r.err)
        assert "error" not in r.err
    scaled = pq.read_table(tmp_path / "scaled.parquet")
    original = pq.read_table(SAMPLE / "houses.parquet")
    assert scaled.num_rows == original.num_rows == 500
    price = scaled.column("price").to_pylist()
    finite = [v for v in price if v is not None]
    assert abs(sum(finite) / len(finite)) < 1e-9  # z-scored: centred at 0


def _written_by_quick_start() -> list[str]:
    outputs = [argv[argv.index("-o") + 1] for argv in NORMCLI_STEPS]
    return [".venv/bin/python", *outputs]


@pytest.mark.skipif(not (REPO / ".git").exists() or shutil.which("git") is None, reason="not a git checkout")
def test_what_the_quick_start_writes_stays_out_of_git_status():
    paths = _written_by_quick_start()
    r = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True)
    assert sorted(r.stdout.split()) == sorted(paths), r.stderr
