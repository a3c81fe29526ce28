"""The small things of issue 11.7: --base e, every offending column named, globs and commas in
column lists, a directory named as one, and shell completion."""

from __future__ import annotations

import json
import math
import os
import subprocess

import numpy as np
import pytest

from conftest import NORMCLI, SAMPLE, assert_clean_error, run

HOUSES = SAMPLE / "houses.csv"


def test_base_e_is_the_natural_log(tmp_path):
    (tmp_path / "x.csv").write_text("x\n1\n2.718281828459045\n10\n")
    r = run("fit", tmp_path / "x.csv", "-m", "log", "--base", "e", "--apply", "-s", tmp_path / "s.json", "-q")
    assert r.code == 0, r.err
    assert json.loads((tmp_path / "s.json").read_text())["columns"][0]["options"]["base"] == math.e
    ys = [float(v) for v in r.text.split()[1:]]
    assert ys == pytest.approx(np.log([1, math.e, 10]), rel=1e-15)
    assert_clean_error(run("fit", tmp_path / "x.csv", "-m", "log", "--base", "ten"), 2, "'ten'", "e")


def test_a_log_domain_error_names_every_offending_column(tmp_path):
    (tmp_path / "n.csv").write_text("a,b,c,d\n1,0,-1,5\n2,-3,2,-1\n")
    r = run("fit", tmp_path / "n.csv", "-m", "log", "--columns", "a,b,c")
    assert_clean_error(r, 1, "columns 'b' (2 value(s), e.g. 0.0), 'c' (1 value(s), e.g. -1.0) have values <= 0")
    r = run("fit", tmp_path / "n.csv", "-m", "log", "-m", "d=reciprocal", "--columns", "a,b")
    assert_clean_error(r, 1, "column 'b' has values <= 0", "column 'd' has values equal to -1")


def test_a_transform_domain_error_names_every_offending_column(tmp_path):
    (tmp_path / "fit.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "new.csv").write_text("a,b\n-1,2\n3,0\n")
    assert run("fit", tmp_path / "fit.csv", "-m", "log", "-o", tmp_path / "s.json", "-q").code == 0
    r = run("transform", tmp_path / "new.csv", "-s", tmp_path / "s.json", "-o", tmp_path / "out.csv")
    assert_clean_error(r, 1, "column 'a'", "column 'b'")
    assert not (tmp_path / "out.csv").exists()


def test_fit_columns_take_globs_and_names_with_commas(tmp_path):
    (tmp_path / "t.csv").write_text('temp_in,temp_out,"price, EUR",id\n1,2,3,a\n2,5,7,b\n')
    r = run("fit", tmp_path / "t.csv", "-m", "minmax", "--columns", "temp_*", "--columns", "price\\, EUR", "-q")
    assert r.code == 0, r.err
    assert [c["name"] for c in json.loads(r.out)["columns"]] == ["temp_in", "temp_out", "price, EUR"]
    r = run("fit", tmp_path / "t.csv", "-m", "minmax", "--exclude", "temp_?ut", "-q")
    assert [c["name"] for c in json.loads(r.out)["columns"]] == ["temp_in", "price, EUR"]
    assert_clean_error(run("fit", tmp_path / "t.csv", "-m", "minmax", "--columns", "x*"), 2, "'x*'", "matches no")


def test_a_directory_as_input_is_named_as_one(tmp_path):
    (tmp_path / "d").mkdir()
    for args in (("stats", "d"), ("fit", "d", "-m", "zscore")):
        assert_clean_error(run(*args, cwd=tmp_path), 1, "d is a directory")


def test_bash_completion_script_as_the_readme_says():
    env = {**os.environ, "_NORMCLI_COMPLETE": "bash_source"}
    proc = subprocess.run([str(NORMCLI)], capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0 and b"_normcli_completion" in proc.stdout
    env = {**os.environ, "_NORMCLI_COMPLETE": "bash_complete", "COMP_WORDS": "normcli st", "COMP_CWORD": "1"}
    proc = subprocess.run([str(NORMCLI)], capture_output=True, env=env, timeout=60)
    assert b"stats" in proc.stdout
