"""The house, drawn from its imports: it reads top-down (cli -> pipeline -> io, core), has no
cycle, and the NumPy core stays free of Click, rich, pyarrow, pandas and polars.

Every `import` counts, also those inside functions (the lazy ones that keep startup fast)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "normcli"
# The NumPy core: numbers in, numbers out; no files, no terminals, no option parsing.
CORE = {
    "normcli._version",
    "normcli.errors",
    "normcli.layout",
    "normcli.lrn_kernel",
    "normcli.lrn_spec",
    "normcli.methods",
    "normcli.method_base",
    "normcli.method_table",
    "normcli.methods_more",
    "normcli.normal",
    "normcli.power",
    "normcli.merge",
    "normcli.column_summary",
    "normcli.drift",
    "normcli.sketch",
    "normcli.rounding",
    "normcli.scaler",
    "normcli.scaler_fit",
    "normcli.stats",
    "normcli.tensor",
    "normcli.tensor.bn_stats",
    "normcli.tensor.layout",
    "normcli.tensor.norm",
    "normcli.tensor.norm_kernel",
    "normcli.tensor.norm_base",
    "normcli.tensor.norm_rows",
    "normcli.validate",
}
HEAVY = ("click", "rich", "pyarrow", "pandas", "polars")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports at run time, by its full name (normcli imports absolutely)."""
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = {  # `if TYPE_CHECKING:` imports are for mypy; they do not run
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}: a relative import"
            found.add(node.module or "")
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: {m for m in imports_of(path) if m in MODULES and m != name} for name, path in MODULES.items()}
THIRD_PARTY = {
    name: {m.split(".")[0] for m in imports_of(path) if not m.startswith("normcli")} for name, path in MODULES.items()
}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_drawn_from_real_modules():
    assert {"normcli.cli", "normcli.pipeline", "normcli.io.readers", "normcli.stats"} <= set(GRAPH)
    assert "normcli.pipeline" in GRAPH["normcli.cli_apply"]
    assert "normcli.io.readers" in GRAPH["normcli.pipeline"]


def test_there_is_no_import_cycle():
    assert find_cycle(GRAPH) is None


def test_a_cycle_would_be_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("name", sorted(CORE & set(MODULES)))
def test_the_core_imports_only_the_core_and_numpy(name):
    assert GRAPH[name] <= CORE, f"{name} imports {sorted(GRAPH[name] - CORE)}"
    assert not THIRD_PARTY[name] & set(HEAVY), f"{name} imports {sorted(THIRD_PARTY[name] & set(HEAVY))}"


def test_layers_read_top_down():
    for name, edges in GRAPH.items():
        if name not in ("normcli.__main__",):
            assert "normcli.cli" not in edges, f"{name} imports the command line"
        if name.startswith("normcli.io"):
            outside = {m for m in edges if not m.startswith("normcli.io")} - {
                "normcli.errors",
                "normcli.layout",
                "normcli.validate",
            }
            assert not outside, f"{name} imports {sorted(outside)}: io turns files into batches and nothing more"
    assert not GRAPH["normcli.pipeline"] & {"normcli.report", "normcli.api"}


@pytest.mark.parametrize("table_reader", ["normcli.io.readers", "normcli.io.csv_reader", "normcli.io.parquet_reader"])
def test_npy_primitives_and_table_readers_do_not_import_each_other(table_reader):
    assert table_reader not in GRAPH["normcli.io.arrays"]
    assert "normcli.io.arrays" not in GRAPH[table_reader]


FLAG = re.compile(r"(?:^|[\s(])(--[a-z]|-m )")
WORDS_ONLY = [
    "normcli.methods",
    "normcli.method_base",
    "normcli.methods_more",
    "normcli.power",
    "normcli.merge",
    "normcli.scaler",
    "normcli.scaler_fit",
    "normcli.lrn_spec",
    "normcli.lrn_kernel",
    "normcli.pipeline",
    "normcli.lrn_pipeline",
    "normcli.norm_pipeline",
    "normcli.drift",
    "normcli.plot",
    "normcli.sketch",
    "normcli.tensor.bn_stats",
    "normcli.tensor.layout",
    "normcli.tensor.norm",
    "normcli.tensor.norm_kernel",
    "normcli.tensor.norm_base",
    "normcli.tensor.norm_rows",
]


@pytest.mark.parametrize("name", WORDS_ONLY)
def test_only_the_command_line_knows_flags(name):
    """The core and the pipeline name parameters (`{offset}`); cli_options.FLAGS turns them into flags."""
    tree = ast.parse(MODULES[name].read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    texts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]
    flagged = [text for text in texts if FLAG.search(text)]
    assert not flagged, f"{name} spells flags: {flagged}"
