"""The README's promises, checked: its error table is what normcli prints."""

import re
import shlex

import pytest

from conftest import REPO
from inprocess import invoke

README = (REPO / "README.md").read_text()
ROWS = re.findall(
    r"^\| `normcli ([^`]+)` \| (\d+) \| `(error: [^`]+)` \|$",
    README.split("<!-- errors:begin -->")[1].split("<!-- errors:end -->")[0],
    re.M,
)


def test_the_readme_has_an_error_table():
    assert len(ROWS) >= 10


@pytest.mark.parametrize(("args", "code", "message"), ROWS, ids=[r[0][:50] for r in ROWS])
def test_readme_error_rows_are_what_normcli_prints(args, code, message):
    r = invoke(*shlex.split(args), cwd=REPO)
    assert (r.code, r.err.strip()) == (int(code), message)
