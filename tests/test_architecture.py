"""The package's shape: one table of exports, documented public functions, no import cycle."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import grimp
import pytest

import salesnb as sn

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_function_table() -> set[str]:
    """The names in the README's table of KPI functions (the `| question | functions |` table)."""
    start = README.index("| question | functions |")
    table = README[start:README.index("\n\n", start)]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        functions = row.split("|")[2]
        names.update(re.findall(r"`([a-z_]+)`", functions))
    return names


def test_all_is_the_exports_table() -> None:
    assert sn.__all__ == sorted(sn._EXPORTS, key=str.lower)
    assert len(set(sn.__all__)) == len(sn.__all__)
    for name in sn.__all__:
        assert getattr(sn, name) is not None, name


def test_the_readme_function_table_lists_every_exported_kpi_function() -> None:
    kpis = {name for name, module in sn._EXPORTS.items() if module.startswith("salesnb.metrics.")}
    table = _readme_function_table()
    assert table == kpis


def test_every_name_the_readme_uses_exists() -> None:
    used = set(re.findall(r"\b(?:sn|salesnb)\.([A-Za-z_]+)\(", README))
    assert used, "the README shows no call"
    assert used <= set(sn.__all__), used - set(sn.__all__)


def test_funnel_and_risk_are_functions_not_modules() -> None:
    assert inspect.isfunction(sn.funnel) and inspect.isfunction(sn.risk)
    assert inspect.ismodule(sn.notebook) and callable(sn.notebook.prepare)


@pytest.mark.parametrize("name", [n for n in sn.__all__ if inspect.isfunction(getattr(sn, n))])
def test_exported_functions_have_complete_numpydoc(name: str) -> None:
    func = getattr(sn, name)
    doc = inspect.getdoc(func) or ""
    for section in ("Parameters\n----------", "Returns\n-------", "Examples\n--------"):
        assert section in doc, f"{name}: no {section.splitlines()[0]} section"
    assert "{" + "data}" not in doc, f"{name}: a docstring fragment was not filled in"
    documented = set(re.findall(r"^(\w+)(?:, (\w+))*(?:, (\w+))? :", doc, re.MULTILINE))
    names = {n for group in documented for n in group if n}
    names |= {m for line in re.findall(r"^([\w, ]+) :", doc, re.MULTILINE)
              for m in (p.strip() for p in line.split(","))}
    params = [p for p in inspect.signature(func).parameters if p not in ("args", "kwargs")]
    missing = [p for p in params if p not in names]
    assert missing == [], f"{name}: parameters without documentation: {missing}"


#: Tables a KPI compares the data with, given right after it (``attainment(data, targets)``).
TABLE_ARGUMENTS = {"targets"}


def test_kpi_options_after_data_are_keyword_only() -> None:
    for name, module in sn._EXPORTS.items():
        if not module.startswith("salesnb.metrics."):
            continue
        params = list(inspect.signature(getattr(sn, name)).parameters.values())
        assert params[0].name == "data", name
        assert all(p.kind is p.KEYWORD_ONLY for p in params[1:] if p.name not in TABLE_ARGUMENTS), name


def test_no_module_is_in_an_import_cycle() -> None:
    graph = grimp.build_graph("salesnb", cache_dir=None)
    modules = sorted(graph.modules)
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    assert cycles == []


def test_layers_import_only_layers_below() -> None:
    # `make lint` runs the import-linter contract of pyproject.toml; this is the same rule
    # stated directly, so a broken contract also fails the test run.
    order = ["salesnb.exceptions", "salesnb._options", "base", "salesnb.data", "salesnb.metrics",
             "salesnb.presentation", "salesnb.report", "salesnb.cli", "salesnb.__main__"]

    def layer(module: str) -> int:
        for i, name in enumerate(order):
            if module == name or module.startswith(name + "."):
                return i
        return order.index("base")

    graph = grimp.build_graph("salesnb", cache_dir=None)
    wrong = [(m, i) for m in graph.modules if m != "salesnb"
             for i in graph.find_modules_directly_imported_by(m)
             if i != "salesnb" and layer(i) > layer(m)]
    assert wrong == []
    assert "salesnb" not in {i for m in graph.modules for i in graph.find_modules_directly_imported_by(m)}


def test_module_names_differ_from_the_names_they_export() -> None:
    for path in (ROOT / "salesnb").rglob("*.py"):
        if "_bundled" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        exported_here = {n for n, m in sn._EXPORTS.items() if m == module and n != "notebook"}
        assert path.stem not in exported_here, module


def test_text_does_not_import_the_dataset() -> None:
    text = importlib.import_module("salesnb.presentation.text")
    assert "SalesData" not in vars(text)
